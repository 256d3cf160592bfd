"""Playwright for the journeys: Debian's Chromium, a phone and a desktop, both languages, screenshots, the console,
and axe (the accessibility checker, shipped inside the axe-playwright-python package: nothing is fetched)."""
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import axe_playwright_python
from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(os.environ.get("TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")) / "browser"
AXE_SCRIPT = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
# WCAG A and AA rules; a page fails on any violation of them.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# What a thumb taps: every button, and the header's links. Links inside text are exempt, as in WCAG 2.5.8.
SMALL_TARGETS = """() => [...document.querySelectorAll('button, .btn, .topbar a')]
  .filter(e => e.offsetParent !== null && !e.closest('.sr-only'))
  .map(e => [(e.innerText || e.getAttribute('aria-label') || e.tagName).trim(), e.getBoundingClientRect()])
  .filter(([, box]) => box.height < 40 || box.width < 40)
  .map(([name, box]) => `${name} ${Math.round(box.width)}x${Math.round(box.height)}`)"""


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool


PHONE = Viewport("phone", 390, 844, True)
DESKTOP = Viewport("desktop", 1280, 860, False)
LANGUAGES = {"zh": "zh-CN", "en": "en-US"}


@dataclass
class Journey:
    """One person's walk through the pages: a page to drive, its screenshots, and what the console said."""

    role: str
    language: str
    viewport: Viewport
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    shots: int = 0
    expected_status: int | None = None  # a page answered with this status on purpose (a form sent back)

    def console(self, kind: str, text: str) -> None:
        refused = re.search(r"status of (\d{3})", text)
        if kind == "error" and not (refused and int(refused.group(1)) == self.expected_status):
            self.errors.append(text)

    @property
    def folder(self) -> Path:
        return OUTPUT / f"{self.role}-{self.language}-{self.viewport.name}"

    def words(self, zh: str, en: str) -> str:
        """What a person reads, in this journey's language."""
        return zh if self.language == "zh" else en

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page, which must not scroll sideways (a table too wide for a phone), and
        whose buttons a thumb can tap on a phone."""
        self.shots += 1
        path = self.folder / f"{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)  # first, so that a page found wrong can be seen
        self.no_sideways_scroll()
        if self.viewport.mobile:
            self.targets_big_enough()
        return path

    def no_sideways_scroll(self) -> None:
        wide = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"{self.page.url} is {wide[0]} px wide on a {wide[1]} px screen"

    def targets_big_enough(self) -> None:
        small = self.page.evaluate(SMALL_TARGETS)
        assert not small, f"{self.page.url}: too small to tap (at least 40 × 40 px): {small}"

    def check_accessibility(self) -> None:
        """axe on the current page: no violation of WCAG 2.1 A/AA."""
        self.page.evaluate(AXE_SCRIPT)
        result = self.page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        found = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
                 for v in result["violations"]]
        assert not found, f"{self.page.url}: {found}"

    def sign_in(self, base: str, phone: str, password: str, then: str | None = None) -> None:
        self.page.goto(f"{base}/login" + (f"?next={then}" if then else ""))
        self.page.get_by_label(self.words("手机号", "Phone number")).fill(phone)
        self.page.get_by_label(self.words("密码", "Password")).fill(password)
        self.page.get_by_role("button", name=self.words("登录", "Sign in")).click()
        self.page.wait_for_load_state()

    def no_console_errors(self) -> None:
        assert not self.errors, f"console errors on {self.role}/{self.language}/{self.viewport.name}: {self.errors}"


def open_journey(browser: Browser, role: str, language: str, viewport: Viewport, **options) -> Journey:
    context = browser.new_context(viewport={"width": viewport.width, "height": viewport.height},
                                  is_mobile=viewport.mobile, has_touch=viewport.mobile,
                                  locale=LANGUAGES[language], timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    journey = Journey(role, language, viewport, context, page)
    page.on("console", lambda message: journey.console(message.type, message.text))
    page.on("pageerror", lambda error: journey.errors.append(str(error)))
    journey.folder.mkdir(parents=True, exist_ok=True)
    return journey


def amount(text: str) -> float:
    """The yuan figure in a text such as "¥12.34"."""
    return float(re.search(r"-?¥([\d,]+\.\d\d)", text).group(1).replace(",", ""))
