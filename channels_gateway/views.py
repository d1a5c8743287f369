from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404
from django.views.decorators.cache import cache_control


@cache_control(public=True, max_age=300)
def widget_script(request):
    """The embeddable script lives at a stable URL: `<script src="https://…/widget.js" data-agent="…">`."""
    path = finders.find("channels_gateway/widget.js")
    if path is None:
        raise Http404
    return FileResponse(open(path, "rb"), content_type="text/javascript; charset=utf-8")
