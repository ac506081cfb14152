"""The shop's pages, one module per domain; ``shop.urls`` names them."""

from .catalogue import page_not_found, robots_txt, server_error

__all__ = ["page_not_found", "robots_txt", "server_error"]
