"""In a real browser, navigating by the sidebar: each family on the Train page starts from its own
defaults and keeps its own settings, so a label names one model (issue 17, defect 5: picking dae
after ae kept the ae's untied weights, and "dae 500 masking 0.3" named two different models)."""
from __future__ import annotations

import re

import pytest

from bench.lecture_hall.server import prepare_home
from tests.browser import BROWSER_TEST, browser_page, dashboard, screenshot, wait_until_idle

pytestmark = [*BROWSER_TEST, pytest.mark.slow]


@pytest.fixture(scope="module")
def dae_home(tmp_path_factory):
    """A data home with the dae's lecture model (tied, the Train page's dae default) trained on the sample."""
    home = tmp_path_factory.mktemp("family")
    prepare_home(home, families=("dae",))  # shared with the other modules that need the lecture's models
    return home


def _go(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True).click()
    page.wait_for_function(f"() => [...document.querySelectorAll('h1')].some(h => h.textContent.includes('{name}'))",
                           timeout=30000)
    wait_until_idle(page)


def _pick_family(page, family: str) -> None:
    page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=re.compile(f"^{family} — ")).click()
    page.wait_for_timeout(500)  # the rerun has started (a training's progress panel reruns in between)
    wait_until_idle(page)


def _tied(page) -> bool:
    return page.locator('[data-testid="stCheckbox"]', has_text="Tied weights").locator("input").is_checked()


def _trained_notice(page) -> str:
    notices = page.locator('[data-testid="stAlertContentSuccess"]').all_inner_texts()
    return " ".join(notices)


def test_each_family_starts_from_its_own_defaults_and_keeps_its_own_settings(dae_home):
    with dashboard(dae_home) as url, browser_page(width=1280, height=1400) as page:
        page.goto(url)
        wait_until_idle(page)
        _go(page, "Train")
        assert not _tied(page)  # the ae's default
        _pick_family(page, "dae")
        assert _tied(page), "the dae kept the ae's untied weights instead of its own default"
        # the page's spec is the default dae, so the trained model is found under its label
        assert re.search(r"dae 500 masking 0.3 .*is already trained", _trained_notice(page))
        screenshot(page, "family-dae-default")

        page.get_by_text("Tied weights").click()  # untie the dae: another model, not trained yet
        wait_until_idle(page)
        assert not _tied(page) and "already trained" not in _trained_notice(page)
        _pick_family(page, "ae")
        assert not _tied(page)
        page.get_by_text("Tied weights").click()  # tie the ae: the dae's setting must not follow
        wait_until_idle(page)
        _pick_family(page, "dae")
        assert not _tied(page), "the dae lost its own setting"

        _go(page, "Models")  # away and back by the sidebar: each family's settings stay
        _go(page, "Train")
        assert not _tied(page)
        _pick_family(page, "ae")
        assert _tied(page)
        assert not page.locator('[data-testid="stException"]').count()
