// Lets the Jupyter widgets HTML manager (embed-amd.js) run from the book's own _static/
// folder. Loaded after require.js and before embed-amd.js; the manager's folder, relative
// to this script, is in this script tag's data-manager attribute (written by book_html).
(function () {
  const script = document.currentScript;
  const folder = new URL(script.dataset.manager, script.src).href.replace(/\/$/, "");
  // The manager's bundled modules find their icon fonts next to their own address, which
  // RequireJS derives from the module names; map those names to the manager's folder.
  window.__jupyter_widgets_assets_path__ = folder + "/";
  window.requirejs.config({
    paths: {
      "@jupyter-widgets": folder,
      "@jupyter-widgets/html-manager/dist": folder,
    },
  });
  // ipywidgets 8 typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue), which
  // MathJax 3 no longer has (ipywidgets issue 3829): provide it on top of MathJax 3.
  document.addEventListener("DOMContentLoaded", function () {
    const mathjax = window.MathJax;
    if (mathjax && mathjax.startup && !mathjax.Hub) {
      mathjax.Hub = {
        Queue: function (...calls) {
          for (const call of calls) {
            const element = Array.isArray(call) ? call[2] : undefined;
            if (element) {
              mathjax.startup.promise = mathjax.startup.promise.then(function () {
                return mathjax.typesetPromise([element]);
              });
            }
          }
        },
      };
    }
  });
})();
