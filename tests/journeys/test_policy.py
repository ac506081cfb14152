"""The Content-Security-Policy holds in Chromium: htmx works, injected script doesn't."""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.journey, pytest.mark.usefixtures("catalogue")]


def test_htmx_pages_run_under_the_policy_and_an_injected_script_is_refused(
    page: Page, page_errors: list[str]
):
    response = page.goto("/products/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    page.get_by_role("checkbox", name="In stock only").check()  # an htmx swap
    expect(page).to_have_url(re.compile(r"in_stock=true"))
    assert page_errors == []

    ran = page.evaluate(
        """() => { window.injected = false;
                   const s = document.createElement('script');
                   s.textContent = 'window.injected = true';
                   document.body.appendChild(s);
                   return window.injected; }"""
    )
    assert ran is False
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in error for error in page_errors)
