"""Browser tests: Debian Chromium driven through Playwright."""
