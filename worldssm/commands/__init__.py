"""Subcommands of the ``worldssm`` command; each module is discovered by :mod:`worldssm.cli`."""
