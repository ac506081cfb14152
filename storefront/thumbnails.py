"""sorl-thumbnail's backend, remembering in each process the thumbnails it found.

A thumbnail's name follows from its source file's name, size and options,
and sorl keeps each one's size in its key-value store (the shared cache).
Looking it up costs a cache round trip and sorl's own work; a listing's
24 cards made 24 of them, a third of a fresh render's time. A thumbnail
found once is therefore kept here for a few minutes, per process: uploads
get new names, and a source deleted through sorl (``delete``) is forgotten
at once in the process that deleted it, within ``SECONDS`` in the others.
"""

import time

from sorl.thumbnail import base, default, images

from .memo import ExpiringLRU

SECONDS = 300
_found = ExpiringLRU(4096)


def _key(file_, geometry_string: str, options: dict) -> tuple:
    """Name the thumbnail by its source (file and where it is kept) and what is asked."""
    storage = getattr(file_, "storage", None) or default.storage
    return (
        getattr(file_, "name", file_),
        type(storage).__qualname__,
        str(getattr(storage, "location", "")),
        str(getattr(storage, "base_url", "")),
        getattr(storage, "bucket_name", ""),
        geometry_string,
        repr(sorted(options.items())),
    )


class ThumbnailBackend(base.ThumbnailBackend):
    def get_thumbnail(self, file_, geometry_string, **options):
        if not file_:
            return super().get_thumbnail(file_, geometry_string, **options)
        key = _key(file_, geometry_string, options)
        thumbnail = _found.get(key)
        if thumbnail is None:
            thumbnail = super().get_thumbnail(file_, geometry_string, **options)
            # Only a thumbnail that exists has its size; not a stand-in
            # for a missing source, which may come.
            if getattr(thumbnail, "size", None) and not isinstance(
                thumbnail, images.DummyImageFile
            ):
                _found.put(key, thumbnail, time.time() + SECONDS)
        return thumbnail

    def delete(self, file_, delete_file=True):
        forget()
        return super().delete(file_, delete_file)


def forget() -> None:
    """Drop what this process remembers (tests that swap the media folder)."""
    _found.clear()
