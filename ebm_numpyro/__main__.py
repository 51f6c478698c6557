"""``python -m ebm_numpyro``: the ``ebm-numpyro`` command (see :mod:`ebm_numpyro.cli`)."""

from .cli import main

raise SystemExit(main())
