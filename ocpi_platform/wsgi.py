"""WSGI entry point (gunicorn ocpi_platform.wsgi).

After Django has loaded, the objects it created (models, URLconf, serializers, settings: a few hundred thousand)
are moved out of the garbage collector's sight with gc.freeze(). They live as long as the process, and without
this every full collection walks them all: a pause of tens of milliseconds in the middle of some request, which
is what made real-time authorization's slowest answers slow (bench/token_authorize.py).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocpi_platform.settings.dev")
application = get_wsgi_application()
gc.collect()
gc.freeze()
