"""What a person would call a broken screen, measured in the browser: one checker for the sweep
(test_screens_browser.py) and for the test that proves it can fail (test_screen_checks_browser.py).

An exception box, a traceback, "Page not found", a main area wider than the window (something cut
off or scrolling sideways), a table whose hover toolbar would cover what is drawn above it, and
sidebar captions fainter than WCAG AA allows (4.5:1)."""

from __future__ import annotations

from typing import Any

#: WCAG 2.x level AA: the least contrast between normal-size text and its background.
AA_CONTRAST = 4.5

#: Horizontal overflow of the main area, in pixels beyond the window (0 when it fits): the page
#: scrolling sideways, or anything inside the main area (a table, a row of columns) wider than it.
OVERFLOW = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const page = document.documentElement.scrollWidth - window.innerWidth;
  return Math.max(page, main ? main.scrollWidth - main.clientWidth : 0);
}"""

#: The contrast of every piece of text in the sidebar's captions against what it is drawn on:
#: [text, ratio] per element holding text. A colour with transparency (Streamlit draws captions
#: in the text colour at 60 %) is blended over the first opaque background behind it.
CAPTION_CONTRAST = """() => {
  const rgba = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    if (!m) throw new Error('unexpected colour ' + css);
    const [r, g, b, a] = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [r, g, b, a === undefined ? 1 : a];
  };
  const over = ([r, g, b, a], [R, G, B]) => [r * a + R * (1 - a), g * a + G * (1 - a), b * a + B * (1 - a)];
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((under, c) => over(c, under), [255, 255, 255]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const found = [];
  const captions = document.querySelectorAll('[data-testid=stSidebar] [data-testid=stCaptionContainer]');
  for (const caption of captions) {
    for (const el of [caption, ...caption.querySelectorAll('*')]) {
      const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent)
        .join('').trim();
      if (!own) continue;
      const style = getComputedStyle(el);
      const behind = background(el);
      let alpha = 1;
      for (let e = el; e; e = e.parentElement) alpha *= Number(getComputedStyle(e).opacity);
      const c = rgba(style.color);
      const text = over([c[0], c[1], c[2], c[3] * alpha], behind);
      const [hi, lo] = [luminance(text), luminance(behind)].sort((x, y) => y - x);
      found.push([own, (hi + 0.05) / (lo + 0.05)]);
    }
  }
  return found;
}"""

#: How far above a table its hover toolbar reaches (Streamlit 1.67: 44 px tall, right-aligned, 112
#: px wide), and the things drawn in that space: the toolbar would cover them.
TOOLBAR_COVERS = """() => {
  const covered = [];
  for (const table of document.querySelectorAll('[data-testid=stMain] [data-testid=stDataFrame]')) {
    const t = table.getBoundingClientRect();
    const band = {left: t.right - 112, right: t.right, top: t.top - 44, bottom: t.top};
    for (const other of document.querySelectorAll('[data-testid=stMain] [data-testid=stElementContainer]')) {
      if (other.contains(table) || table.contains(other)) continue;
      const o = other.getBoundingClientRect();
      if (o.height < 1 || o.width < 1) continue;
      if (o.left < band.right && o.right > band.left && o.top < band.bottom - 1 && o.bottom > band.top + 1) {
        covered.push((other.innerText || other.dataset.testid || '').trim().slice(0, 40));
      }
    }
  }
  return covered;
}"""

#: Tables on screen whose columns are wider than the table: a row is read by scrolling sideways
#: inside the table (the page itself does not scroll, so OVERFLOW does not see it). Each as the
#: number of pixels hidden.
SIDEWAYS_TABLES = """() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stDataFrame]')]
  .filter((table) => table.offsetParent !== null)
  .map((table) => table.querySelector('.dvn-scroller'))
  .filter(Boolean)
  .map((scroller) => scroller.scrollWidth - scroller.clientWidth)
  .filter((hidden) => hidden > 1)"""


def sideways_tables(tab: Any) -> list[int]:
    """How far each table on screen that scrolls sideways hides its columns, in pixels."""
    return [int(hidden) for hidden in tab.evaluate(SIDEWAYS_TABLES)]


def faint_captions(tab: Any) -> list[tuple[str, float]]:
    """The sidebar caption texts below WCAG AA contrast, with their ratio."""
    return [(text, ratio) for text, ratio in tab.evaluate(CAPTION_CONTRAST) if ratio < AA_CONTRAST]


def problems_on(tab: Any) -> list[str]:
    """Everything broken on the screen open in `tab`, in words (empty when it looks right)."""
    found = []
    if tab.locator("[data-testid=stException]").count():
        found.append("an exception box")
    text = tab.locator("body").inner_text()
    for words in ("Traceback (most recent call last)", "Page not found"):
        if words in text:
            found.append(repr(words))
    overflow = int(tab.evaluate(OVERFLOW))
    if overflow > 1:
        found.append(f"the main area is {overflow}px wider than the window")
    found += [f"a table's toolbar would cover {what!r} above it" for what in tab.evaluate(TOOLBAR_COVERS)]
    found += [
        f"the sidebar caption {text!r} has a contrast of {ratio:.2f}:1 (WCAG AA needs {AA_CONTRAST}:1)"
        for text, ratio in faint_captions(tab)
    ]
    return found
