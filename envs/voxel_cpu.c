// One C function draws a batch the way render_voxels' torch ops do, with the same float operations
// in the same order (compiled with -ffp-contract=off; MULADD is torch.addcmul, fused or not as the
// eager CPU kernel rounds it), so the frames are identical. Per environment: the march and every
// cell's event for all columns at once (the loop over columns vectorises), the event of each
// pixel (the first event whose first row is at or above it), the pixels' atlas indices one row at
// a time (vectorised, with gathers), then the colours.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if VOXEL_FMA
#define MULADD(a, b, c) fmaf((a), (b), (c))
#else
#define MULADD(a, b, c) ((a) * (b) + (c))
#endif
#define MAXW 512
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "a cell's height is read as the low half of its 8 bytes"
#endif

// float -> int32 as torch's CPU copy_ converts (out of range or NaN: INT32_MIN, as x86 does).
static inline int32_t f2i(float x) {
    return (x > -2147483648.0f && x < 2147483648.0f) ? (int32_t)x : INT32_MIN;
}
static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

typedef struct {  // floats already rounded to float32, as torch rounds its scalars
    int64_t h, w, g, n, s, ls, n_tab, hs, stride, fog_first, fog_key, clouds;
    float focal, s_over_f, neg_y0, view_distance, lv_scale, sky_b, minus_s, table_step;
} voxel_params;

// Atlas indices of one pixel row (the per-pixel stage of render_voxels).
__attribute__((noinline)) static void pixel_row(
        int w, int ls, int32_t s1, int top_rows, float y, float qr, float pxs, float pys,
        float lv_scale, float last_slot, const int32_t *restrict ev, const int32_t *restrict kk,
        const float *restrict aa, const float *restrict bb, const float *restrict dxs,
        const float *restrict dys, const int32_t *restrict table3, int32_t *restrict out) {
    for (int x = 0; x < w; x++) {
        const int32_t j = ev[x], k = kk[j];
        const float a = aa[j];
        const int32_t gi = f2i(floorf(MULADD(bb[j], y, a)));
        int32_t lower = gi >> ls;
        lower = lower < 0 ? 0 : (lower > 1 ? 1 : lower);
        const int32_t front = ((gi & s1) << ls) + (k & ((1 << 22) - 1))
                              + lower * (k >> 27) * (1 << (2 * ls));
        const float ts = a * qr;
        const int32_t v = f2i(MULADD(ts, dys[x], pys)), u = f2i(MULADD(ts, dxs[x], pxs));
        const int32_t level = f2i(clampf(ts * lv_scale, 0.0f, last_slot));
        const int32_t top = ((v & s1) << ls) + (u & s1) + (((k >> 22) & 31) << (2 * ls));
        const int use_top = top_rows & (gi < 0);
        out[x] = use_top ? top + table3[use_top ? level : 0] : front;
    }
}

int voxel_render(const voxel_params *P, int64_t envs, const float *pos, const float *eye,
                 const float *rays, const int32_t *sky_u, const int32_t *cells,
                 const int32_t *table3, const float *yc, const float *q, const uint8_t *rgb,
                 uint8_t *out) {
    const int64_t h = P->h, w = P->w, g = P->g, n = P->n, e = n + 2, s = P->s, ls = P->ls;
    const int64_t hs = P->hs;
    const int32_t s1 = (int32_t)s - 1, ss = (int32_t)(s * s), stride = (int32_t)P->stride;
    const float top_row = (float)h, last_slot = (float)(P->n_tab - 1), gf = (float)g;
    const float gp2 = (float)(g + 2), fs = (float)s, minus_s = P->minus_s, focal = P->focal;
    const float s_over_f = P->s_over_f, neg_y0 = P->neg_y0, view_distance = P->view_distance;
    const float table_step = P->table_step, lv_scale = P->lv_scale;
    const int64_t *restrict pairs = (const int64_t *)cells;  // (height bits, faces) per cell
    if (w > MAXW) return 1;
    int32_t *restrict first = malloc(sizeof(int32_t) * e * w);
    int32_t *restrict kk = malloc(sizeof(int32_t) * e * w);
    float *restrict aa = malloc(sizeof(float) * e * w);
    float *restrict bb = malloc(sizeof(float) * e * w);
    int32_t *restrict ev = malloc(sizeof(int32_t) * (h + 1) * w);
    int32_t *restrict idx = malloc(sizeof(int32_t) * h * w);
    float dxs[MAXW], dys[MAXW], ddx[MAXW], ddy[MAXW], cx[MAXW], cy[MAXW], stx[MAXW], sty[MAXW];
    float sdx[MAXW], sdy[MAXW], tin[MAXW], xfs[MAXW];
    int status = !first || !kk || !aa || !bb || !ev || !idx;
    for (int64_t env = 0; env < envs && !status; env++) {
        const float px = pos[2 * env], py = pos[2 * env + 1], eye_e = eye[env];
        const float pxs = px * fs, pys = py * fs, cx0 = floorf(px), cy0 = floorf(py);
        const int64_t cell_off = env * (g + 2) * (g + 2) + g + 3;  // cell (0, 0)
        // The next map into the caches, a part per step, while this one is drawn (the gathers
        // of the cells wait on memory otherwise).
        const char *next = (const char *)(pairs + (env + 1) * (g + 2) * (g + 2));
        const int64_t map_bytes = env + 1 < envs ? 8 * (g + 2) * (g + 2) : 0;
        const int64_t part = ((map_bytes + n - 1) / n + 63) / 64 * 64;
        for (int64_t x = 0; x < w; x++) {  // the rays' start (_march)
            const float dx = rays[2 * (env * w + x)], dy = rays[2 * (env * w + x) + 1];
            dxs[x] = dx, dys[x] = dy;
            ddx[x] = 1.0f / fmaxf(fabsf(dx), 1e-9f), ddy[x] = 1.0f / fmaxf(fabsf(dy), 1e-9f);
            cx[x] = cx0, cy[x] = cy0;
            stx[x] = dx < 0 ? -1.0f : 1.0f, sty[x] = dy < 0 ? -1.0f : 1.0f;
            sdx[x] = (dx < 0 ? px - cx0 : cx0 + 1.0f - px) * ddx[x];
            sdy[x] = (dy < 0 ? py - cy0 : cy0 + 1.0f - py) * ddy[x];
            tin[x] = 0.0f, xfs[x] = 0.0f;
        }
        for (int64_t i = 0; i < n; i++) {  // cell i of every column: its event (per-cell stage)
            for (int64_t o = i * part; o < (i + 1) * part && o < map_bytes; o += 64)
                __builtin_prefetch(next + o);
            int32_t *restrict f = first + i * w, *restrict k = kk + i * w;
            float *restrict a = aa + i * w, *restrict b = bb + i * w;
#pragma GCC ivdep
            for (int64_t x = 0; x < w; x++) {
                const float t_in = tin[x], xf = xfs[x], s_x = sdx[x], s_y = sdy[x];
                const float t_out = s_x < s_y ? s_x : s_y;
                const float cxc = clampf(cx[x], -1.0f, gf), cyc = clampf(cy[x], -1.0f, gf);
                const int64_t pair = pairs[cell_off + (int32_t)(cyc * gp2 + cxc)];  // one gather
                const union { int32_t i; float f; } hgt = {.i = (int32_t)pair};
                const float rise = eye_e - hgt.f, t_in_c = t_in > 1e-3f ? t_in : 1e-3f;
                const int32_t faces = (int32_t)(pair >> 32);
                a[x] = rise * minus_s;
                b[x] = i == 0 ? 0.0f : t_in_c * s_over_f;
                const float rf = rise * focal;
                const float y_front = i == 0 ? INFINITY : neg_y0 + rf / t_in_c;
                float y_edge = neg_y0 + rf / t_out;
                y_edge = y_edge < y_front ? y_edge : y_front;
                y_edge = t_in > view_distance ? y_edge + 1e30f : y_edge;
                f[x] = (int32_t)ceilf(clampf(y_edge, 0.0f, top_row));
                const int32_t slot = f2i(clampf(t_in_c * table_step, 0.0f, last_slot));
                const float hx = MULADD(t_in, dys[x], py), hy = MULADD(t_in, dxs[x], px);
                const float hit = xf != 0.0f ? hy + (hx - hy) : hy;
                k[x] = table3[slot] + 2 * stride + (f2i(floorf(hit * fs)) & s1)
                       + (faces & 255) * (ss - 1) + faces - (xf != 0.0f ? stride : 0);
                const int go_x = s_x < s_y;  // the next cell
                cx[x] = go_x ? cx[x] + stx[x] : cx[x], cy[x] = go_x ? cy[x] : cy[x] + sty[x];
                sdx[x] = go_x ? s_x + ddx[x] : s_x, sdy[x] = go_x ? s_y : s_y + ddy[x];
                xfs[x] = go_x ? 1.0f : 0.0f, tin[x] = t_out;
            }
        }
        for (int64_t x = 0; x < w; x++) {  // the fog and the sky
            first[n * w + x] = (int32_t)P->fog_first, kk[n * w + x] = (int32_t)P->fog_key;
            aa[n * w + x] = 0.0f, bb[n * w + x] = 0.0f, first[(n + 1) * w + x] = 0;
            kk[(n + 1) * w + x] = sky_u[env * w + x] + (int32_t)P->clouds * ss;
            aa[(n + 1) * w + x] = 0.0f, bb[(n + 1) * w + x] = P->sky_b;
        }
        // Each row shows the first event at or above it: every event marks its first row (in
        // reverse order, so the first event's mark stays), then a running minimum down the rows
        // (the sky marks row 0 of every column); as the scatter-min of the torch ops.
        for (int64_t p = 0; p < w * (h + 1); p++) ev[p] = (int32_t)e;
        for (int64_t i = e - 1; i >= 0; i--)
            for (int64_t x = 0; x < w; x++) ev[first[i * w + x] * w + x] = (int32_t)i;
        for (int64_t p = w; p < w * h; p++) ev[p] = ev[p] < ev[p - w] ? ev[p] : ev[p - w];
        for (int64_t r = 0; r < h; r++)  // as flat indices into the per-event arrays
            for (int64_t x = 0; x < w; x++) ev[r * w + x] = ev[r * w + x] * (int32_t)w + (int32_t)x;
        for (int64_t r = 0; r < h; r++)
            pixel_row((int)w, (int)ls, s1, r >= hs, yc[r], r >= hs ? q[r - hs] : 0.0f, pxs, pys,
                      lv_scale, last_slot, ev + r * w, kk, aa, bb, dxs, dys, table3, idx + r * w);
        uint8_t *d = out + env * h * w * 3;
        for (int64_t p = 0; p < h * w; p++) {
            const uint8_t *c = rgb + 3 * (int64_t)idx[p];
            d[3 * p] = c[0], d[3 * p + 1] = c[1], d[3 * p + 2] = c[2];
        }
    }
    free(first), free(kk), free(aa), free(bb), free(ev), free(idx);
    return status;
}
