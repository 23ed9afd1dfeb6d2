/* Document preview: a PDF is drawn page by page into canvases by pdf.js, loaded from this
 * server (/vendor/pdfjs, pinned in package.json) only when a preview is opened. The worker
 * comes from the same origin, so the page's CSP (script-src 'self') holds. */
(function () {
  'use strict';
  var MAX_PAGES = 10;
  var loading = null;

  function pdfjs(el) {
    if (!loading) {
      var build = el.getAttribute('data-pdfjs');
      loading = import(build + 'pdf.min.mjs').then(function (lib) {
        lib.GlobalWorkerOptions.workerSrc = build + 'pdf.worker.min.mjs';
        return lib;
      });
    }
    return loading;
  }

  function status(el, text) {
    var p = el.querySelector('.pdf-status');
    if (p) { p.textContent = text; }
  }

  function render(el) {
    if (el.getAttribute('data-rendered')) { return; }
    el.setAttribute('data-rendered', 'loading');
    var box = el.querySelector('.pdf-pages');
    var base = el.getAttribute('data-pdfjs-base');
    pdfjs(el).then(function (lib) {
      return lib.getDocument({
        url: el.getAttribute('data-pdf-url'), withCredentials: true, isEvalSupported: false,
        standardFontDataUrl: base + 'standard_fonts/', cMapUrl: base + 'cmaps/', cMapPacked: true,
        wasmUrl: base + 'wasm/', enableXfa: false
      }).promise;
    }).then(function (doc) {
      var count = Math.min(doc.numPages, MAX_PAGES);
      status(el, doc.numPages > count ? count + ' dari ' + doc.numPages + ' halaman ditampilkan; unduh untuk melihat semuanya.'
        : doc.numPages + ' halaman.');
      var chain = Promise.resolve();
      for (var n = 1; n <= count; n++) {
        chain = chain.then(drawPage.bind(null, doc, n, box));
      }
      return chain;
    }).then(function () {
      el.setAttribute('data-rendered', 'true');
    }).catch(function (err) {
      status(el, 'Pratinjau tidak dapat ditampilkan (' + (err && err.message ? err.message : err) + '). Unduh berkasnya.');
      el.setAttribute('data-rendered', 'error');
    });
  }

  function drawPage(doc, number, box) {
    return doc.getPage(number).then(function (page) {
      var width = Math.max(box.clientWidth, 200);
      var unscaled = page.getViewport({ scale: 1 });
      var ratio = window.devicePixelRatio || 1;
      var viewport = page.getViewport({ scale: (width / unscaled.width) * ratio });
      var canvas = document.createElement('canvas');
      canvas.className = 'pdf-page';
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.setAttribute('aria-label', 'Halaman ' + number);
      box.appendChild(canvas);
      return page.render({ canvas: canvas, canvasContext: canvas.getContext('2d'), viewport: viewport }).promise;
    });
  }

  document.querySelectorAll('details.preview[data-pdf-url]').forEach(function (el) {
    el.addEventListener('toggle', function () { if (el.open) { render(el); } });
  });
}());
