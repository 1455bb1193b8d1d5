"""Scale a display equation that is slightly too wide for the text column to fit it.

MathJax 3 does not break lines. On a phone (390 px) an equation a little wider
than the column would otherwise scroll or be cut off, so after MathJax has
typeset the page this script shrinks such an equation's font until it fits,
but never below ``MIN_FONT_PX`` (the size of the code text): an equation that
does not fit at that size stays too wide, and tests/test_site_browser.py fails
on it, naming the page and the equation; split it with ``aligned``.

When it has run, ``<html data-math-fitted="N">`` records how many equations it
scaled (the browser test waits for it).
"""
MIN_FONT_PX = 14

SCRIPT = """
(function () {
  const MIN_FONT_PX = __MIN_FONT_PX__;
  function fit() {
    let scaled = 0;
    document.querySelectorAll('div.math mjx-container[display="true"]').forEach(function (box) {
      box.style.fontSize = '';
      const math = box.querySelector('mjx-math');
      if (!math) return;
      const natural = math.getBoundingClientRect().width;
      const room = box.clientWidth;
      if (natural <= room) return;
      const size = parseFloat(getComputedStyle(box).fontSize);
      box.style.fontSize = Math.max(MIN_FONT_PX, Math.floor(size * room / natural * 10) / 10) + 'px';
      scaled += 1;
    });
    document.documentElement.dataset.mathFitted = String(scaled);
  }
  function whenTypeset() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
    } else if (document.querySelector('div.math')) {
      setTimeout(whenTypeset, 50);
    } else {
      document.documentElement.dataset.mathFitted = '0';
    }
  }
  window.addEventListener('load', whenTypeset);
  let pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(fit, 100);
  });
})();
""".replace("__MIN_FONT_PX__", str(MIN_FONT_PX))


def setup(app):
    app.add_js_file(None, body=SCRIPT)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
