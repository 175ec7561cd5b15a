// Two C functions draw a batch the way render_grid's torch ops do, with the same float operations
// in the same order (compiled with -ffp-contract=off; MULADD is torch.addcmul, fused or not as the
// eager CPU kernel rounds it), so the frames are identical. grid_columns: per screen column, the
// DDA ray through the wall grid and the nearest visible sprite. Between the two calls torch turns
// the distances into fog levels (torch.exp; the kernel does not compute an exp of its own).
// grid_pixels: per environment, every pixel's lit-atlas index one row at a time (the loop over
// columns vectorises), the sprites column by column, then the colours.
//
// Threads: the threads of a pass share one work counter (work[0]: the next environment to claim,
// work[1]: environments done) and claim chunks of environments until none are left, so a thread
// that the OS holds back only delays the chunk it holds. The caller (wait = 1) returns when every
// environment is done; the others return when nothing is left to claim.
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#if GRID_FMA
#define MULADD(a, b, c) fmaf((a), (b), (c))
#else
#define MULADD(a, b, c) ((a) * (b) + (c))
#endif
#define MAXW 1024

// float -> int32 as torch's CPU conversions do (out of range or NaN: INT32_MIN, as x86 does).
static inline int32_t f2i(float x) {
    return (x > -2147483648.0f && x < 2147483648.0f) ? (int32_t)x : INT32_MIN;
}
static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
// torch.clamp_min: NaN stays NaN (fmaxf would return lo).
static inline float clamp_minf(float x, float lo) { return x < lo ? lo : x; }

typedef struct {  // floats already rounded to float32, as torch rounds its scalars
    int64_t h, w, g, k, s, ls, max_steps, total_cells, n_up, nshade, stride, sky, floor_uniform;
    int64_t n_alpha, n_rgb;  // texels of the atlas and of the lit atlas
    float s_over_f, wtop, eye_z, focal, fs;
} grid_params;

// Indices into the pointer array both functions take (see raycast_cpu.py).
enum {
    POS, RAYS, WALLS, FLOOR, CEILING, SP_DEPTH, SP_LEFT, SP_HALFW, SP_TEX, SP_HEIGHT, SP_Z,
    DIST, WTEX, WU, SIDE, SD, SU, STEX, SH, SZ, WLEVEL, SLEVEL, SKY_U, T_ROW, PLEVEL, SKY_ROW,
    YC, ALPHA, RGB, OUT, N_PTR
};

// Claims chunks of environments and runs body on each (see the top of the file).
#define FOR_CHUNKS(body)                                                               \
    for (;;) {                                                                         \
        const int64_t env0 = __atomic_fetch_add(&work[0], chunk, __ATOMIC_RELAXED);    \
        if (env0 >= total) break;                                                      \
        const int64_t envs = env0 + chunk < total ? chunk : total - env0;              \
        body;                                                                          \
        __atomic_fetch_add(&work[1], envs, __ATOMIC_RELEASE);                          \
    }                                                                                  \
    if (wait)                                                                          \
        while (__atomic_load_n(&work[1], __ATOMIC_ACQUIRE) < total) sched_yield();

// cast_columns and sprite_columns of raycast.py for environments env0 .. env0 + envs - 1.
static void columns(const grid_params *P, int64_t env0, int64_t envs, void *const *a) {
    const int64_t w = P->w, g = P->g, nk = P->k, top = P->total_cells - 1;
    const float gf = (float)g;
    const float *pos = a[POS], *rays = a[RAYS];
    const int64_t *walls = a[WALLS], *sp_tex = a[SP_TEX];
    const float *sp_depth = a[SP_DEPTH], *sp_left = a[SP_LEFT], *sp_halfw = a[SP_HALFW];
    const float *sp_height = a[SP_HEIGHT], *sp_z = a[SP_Z];
    float *dist_o = a[DIST], *wu_o = a[WU], *sd_o = a[SD], *su_o = a[SU], *sh_o = a[SH];
    float *sz_o = a[SZ];
    int32_t *wtex_o = a[WTEX], *side_o = a[SIDE], *stex_o = a[STEX];
    for (int64_t env = env0; env < env0 + envs; env++) {
        const float px = pos[2 * env], py = pos[2 * env + 1];
        const float fx = floorf(px), fy = floorf(py);
        const int32_t lin0 = f2i(fy * gf + fx) + (int32_t)(env * g * g);
        for (int64_t x = 0; x < w; x++) {
            const int64_t c = env * w + x;
            const float dx = rays[2 * c], dy = rays[2 * c + 1];
            const float ddx = 1.0f / clamp_minf(fabsf(dx), 1e-9f);
            const float ddy = 1.0f / clamp_minf(fabsf(dy), 1e-9f);
            const int negx = dx < 0, negy = dy < 0;
            const int32_t stx = negx ? -1 : 1, sty = negy ? -(int32_t)g : (int32_t)g;
            float sdx = negx ? (px - fx) * ddx : (fx + 1.0f - px) * ddx;
            float sdy = negy ? (py - fy) * ddy : (fy + 1.0f - py) * ddy;
            int32_t lin = lin0, side = 0;
            int64_t tex = -1;
            for (int64_t i = 0; i < P->max_steps; i++) {
                side = sdx < sdy;
                if (side) sdx = sdx + ddx, lin += stx;
                else sdy = sdy + ddy, lin += sty;
                lin = lin < 0 ? 0 : (lin > top ? (int32_t)top : lin);
                tex = walls[lin];
                if (tex >= 0) break;
            }
            float dist = side ? sdx - ddx : sdy - ddy;
            dist = clamp_minf(dist, 1e-4f);
            const float wall_pos = side ? py + dist * dy : px + dist * dx;
            float u = wall_pos - floorf(wall_pos);
            u = (side && negx) || (!side && dy > 0) ? 1.0f - u : u;
            dist_o[c] = dist, wu_o[c] = clampf(u, 0.0f, 0.9999f);
            wtex_o[c] = tex < 0 ? 0 : (int32_t)tex, side_o[c] = side;
            // The nearest sprite in front of the wall (the first of equally near ones).
            const float col = (float)x + 0.5f;
            float best = INFINITY, best_u = 0.0f;
            int64_t best_k = 0;
            for (int64_t k = 0; k < nk; k++) {
                const int64_t j = env * nk + k;
                const float depth = sp_depth[j];
                const float uk = (col - sp_left[j]) / clamp_minf(2.0f * sp_halfw[j], 1e-6f);
                const int ok = uk >= 0.0f && uk < 1.0f && depth > 0.15f && sp_tex[j] >= 0
                               && depth < dist;
                if (ok && depth < best) best = depth, best_u = uk, best_k = k;
            }
            const int64_t j = env * nk + best_k;
            sd_o[c] = best, su_o[c] = best_u;
            stex_o[c] = nk ? (int32_t)sp_tex[j] : -1;
            sh_o[c] = nk ? sp_height[j] : 1.0f, sz_o[c] = nk ? sp_z[j] : 0.0f;
        }
    }
}

// The rest of render_grid (walls, floor, ceiling or sky, sprites, colours) for env0 .. + envs - 1;
// idx: h * w ints of scratch. Sets *bad where an index is out of range (torch raises there).
static void pixels(const grid_params *P, int64_t env0, int64_t envs, void *const *a,
                   int32_t *restrict idx, int *bad) {
    const int64_t h = P->h, w = P->w, g = P->g, ls = P->ls, n_up = P->n_up;
    const int32_t s = (int32_t)P->s, s1 = s - 1, ss = s * s, gg = (int32_t)(g * g);
    const int32_t stride = (int32_t)P->stride, nshade = (int32_t)P->nshade;
    const float fs = P->fs, s_over_f = P->s_over_f, wtop = P->wtop, eye_z = P->eye_z;
    const float focal = P->focal, last_row = (float)(s - 1);
    const uint32_t n_alpha = (uint32_t)P->n_alpha, n_rgb = (uint32_t)P->n_rgb;
    int out_of_range = 0;
    const float *pos = a[POS], *rays = a[RAYS];
    const int32_t *floor_tex = a[FLOOR];  // (int32: the gather below vectorises)
    const int64_t *ceiling = a[CEILING];
    const float *dist_a = a[DIST], *wu_a = a[WU], *sd_a = a[SD], *su_a = a[SU], *sh_a = a[SH];
    const float *sz_a = a[SZ], *t_row = a[T_ROW], *yc = a[YC];
    const int32_t *wtex_a = a[WTEX], *side_a = a[SIDE], *stex_a = a[STEX], *wlevel_a = a[WLEVEL];
    const int32_t *slevel_a = a[SLEVEL], *sky_u = a[SKY_U], *plevel = a[PLEVEL];
    const int32_t *sky_row = a[SKY_ROW];
    const uint8_t *alpha = a[ALPHA], *rgb = a[RGB];
    uint8_t *out = a[OUT];
    float dist[MAXW], wslope[MAXW], rx[MAXW], ry[MAXW];
    int32_t wbase[MAXW], cells[MAXW];
    for (int64_t env = env0; env < env0 + envs; env++) {
        const float pxs = pos[2 * env] * fs, pys = pos[2 * env + 1] * fs;
        const int32_t *fl = floor_tex + env * gg;
        const int32_t ceil_base = (int32_t)ceiling[env] * ss, floor_base = fl[0] * ss;
        for (int64_t x = 0; x < w; x++) {
            const int64_t c = env * w + x;
            dist[x] = dist_a[c];
            wbase[x] = (wlevel_a[c] * nshade + !side_a[c]) * stride + wtex_a[c] * ss
                       + f2i(wu_a[c] * fs);
            wslope[x] = dist_a[c] * s_over_f;
            rx[x] = rays[2 * c] * fs, ry[x] = rays[2 * c + 1] * fs;
        }
        for (int64_t r = 0; r < h; r++) {
            const float yr = yc[r], tr = t_row[r];
            const int32_t pl = plevel[r];
            const int is_floor = r >= n_up;
            int32_t *restrict o = idx + r * w;
            if (!is_floor && P->sky) {
                const int32_t sr = sky_row[r];
                for (int64_t x = 0; x < w; x++) {
                    const int32_t widx = (f2i(MULADD(yr, wslope[x], wtop)) & s1) * s + wbase[x];
                    o[x] = tr >= dist[x] ? widx : sky_u[env * w + x] + sr;
                }
            } else if (!is_floor || P->floor_uniform) {
                const int32_t base = (is_floor ? floor_base : ceil_base) + pl;
                for (int64_t x = 0; x < w; x++) {
                    const int32_t widx = (f2i(MULADD(yr, wslope[x], wtop)) & s1) * s + wbase[x];
                    const int32_t xi = f2i(MULADD(rx[x], tr, pxs));
                    const int32_t yi = f2i(MULADD(ry[x], tr, pys));
                    const int32_t plane = ((yi & s1) << ls | (xi & s1)) + base;
                    o[x] = tr >= dist[x] ? widx : plane;
                }
            } else {  // (the floor texture's gather in a loop of its own: the rest vectorises)
                for (int64_t x = 0; x < w; x++) {
                    const int32_t widx = (f2i(MULADD(yr, wslope[x], wtop)) & s1) * s + wbase[x];
                    const int32_t xi = f2i(MULADD(rx[x], tr, pxs));
                    const int32_t yi = f2i(MULADD(ry[x], tr, pys));
                    int32_t cell = (yi >> ls) * (int32_t)g + (xi >> ls);
                    cell = cell < 0 ? 0 : (cell > gg - 1 ? gg - 1 : cell);
                    const int wall = tr >= dist[x];
                    o[x] = wall ? widx : ((yi & s1) << ls | (xi & s1)) + pl;
                    cells[x] = wall ? -1 : cell;
                }
                for (int64_t x = 0; x < w; x++)
                    if (cells[x] >= 0) o[x] += fl[cells[x]] * ss;
            }
        }
        for (int64_t x = 0; x < w; x++) {  // sprites: _draw_sprites
            const int64_t c = env * w + x;
            const float sd = sd_a[c];
            if (!(sd < INFINITY)) continue;
            const float sh = sh_a[c];
            const float slope = sd / focal / sh * fs, off = (sz_a[c] + sh - eye_z) / sh * fs;
            const int32_t stex = stex_a[c] < 0 ? 0 : stex_a[c];
            const int32_t col = (int32_t)((int64_t)stex * ss + (int64_t)(clampf(su_a[c], 0.0f,
                                                                                0.999f) * fs));
            const int32_t level = slevel_a[c];
            for (int64_t r = 0; r < h; r++) {
                const float sv = MULADD(yc[r], slope, off);
                const int32_t sidx = f2i(clampf(sv, 0.0f, last_row)) * s + col;
                const int in_atlas = (uint32_t)sidx < n_alpha;
                out_of_range |= !in_atlas;
                if (sv >= 0.0f && sv < fs && in_atlas && alpha[sidx]) idx[r * w + x] = sidx + level;
            }
        }
        uint8_t *d = out + env * h * w * 3;
        for (int64_t p = 0; p < h * w; p++) {
            const int in_lit = (uint32_t)idx[p] < n_rgb;
            out_of_range |= !in_lit;
            const uint8_t *c = rgb + 3 * (int64_t)(in_lit ? idx[p] : 0);
            d[3 * p] = c[0], d[3 * p + 1] = c[1], d[3 * p + 2] = c[2];
        }
    }
    if (out_of_range) __atomic_store_n(bad, 1, __ATOMIC_RELAXED);
}

// One pass over environments 0 .. total - 1 on `threads` threads: this one and detached POSIX
// threads (no Python thread, so no wait for the GIL), which claim chunks from one counter. A worker
// the OS starts late finds nothing left and only frees the job if it is the last to hold it.
typedef struct {
    grid_params P;
    void *a[N_PTR];
    int32_t *scratch;  // threads * h * w ints: each thread's own pixel indices
    int64_t work[2], total, chunk, pass;
    int next_thread, refs, bad;
} job_t;

static void run_job(job_t *j, int t, int wait) {
    const grid_params *P = &j->P;
    int64_t *work = j->work;
    const int64_t total = j->total, chunk = j->chunk;
    void *const *a = j->a;
    if (j->pass == 0) {
        FOR_CHUNKS(columns(P, env0, envs, a))
    } else {
        int32_t *idx = j->scratch + (int64_t)t * P->h * P->w;
        FOR_CHUNKS(pixels(P, env0, envs, a, idx, &j->bad))
    }
}

static void release(job_t *j) {
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) == 0) free(j);
}

static void *worker(void *arg) {
    job_t *j = arg;
    run_job(j, __atomic_add_fetch(&j->next_thread, 1, __ATOMIC_RELAXED), 0);
    release(j);
    return NULL;
}

// pass 0: cast_columns and sprite_columns; pass 1: the pixels. 1 if the image is too wide or
// there is no memory for the job (nothing is drawn then), or an atlas index was out of range.
int grid_render(const grid_params *P, int pass, int64_t total, int64_t chunk, int threads,
                void *const *a, int32_t *scratch) {
    if (P->w > MAXW) return 1;
    job_t *j = malloc(sizeof(job_t));
    if (!j) return 1;
    j->P = *P;
    for (int i = 0; i < N_PTR; i++) j->a[i] = a[i];
    j->scratch = scratch, j->work[0] = 0, j->work[1] = 0, j->total = total, j->chunk = chunk;
    j->pass = pass, j->next_thread = 0, j->refs = threads, j->bad = 0;
    pthread_attr_t attr;
    const int attr_ok = pthread_attr_init(&attr) == 0
                        && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
    for (int t = 1; t < threads; t++) {
        pthread_t id;
        if (!attr_ok || pthread_create(&id, &attr, worker, j) != 0) release(j);
    }
    if (attr_ok) pthread_attr_destroy(&attr);
    run_job(j, 0, 1);
    const int bad = __atomic_load_n(&j->bad, __ATOMIC_ACQUIRE);  // (every chunk is done)
    release(j);
    return bad;
}
