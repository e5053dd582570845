"""The application root: the one package that knows every part.

It builds the services (``aduan.services``), the Sanic app (``aduan.app``),
the ``aduan`` command line (``aduan.cli``), the model registry Alembic uses
(``aduan.registry``) and the demo staff (``aduan.demo``). Nothing imports this
package; the parts build on the core (``desk/``, ``storage/``) and are wired
here (tests/test_layers.py checks it).
"""
