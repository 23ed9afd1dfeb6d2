/* Draws the process diagram with bpmn-js (NavigatedViewer, served from the app) and marks
 * the steps named in data- attributes: data-current, data-completed, data-returned
 * (space-separated BPMN element ids). No inline script or style: markers are CSS classes. */
(function () {
  'use strict';

  function ids(el, name) {
    return (el.getAttribute('data-' + name) || '').split(/\s+/).filter(Boolean);
  }

  function setStatus(el, text, isError) {
    var status = el.querySelector('.diagram-status');
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle('is-hidden', !text);
    status.classList.toggle('form-error', !!isError);
  }

  function draw(el) {
    if (typeof window.BpmnJS !== 'function') {
      setStatus(el, 'Diagram tidak dapat ditampilkan: pustaka bpmn-js tidak tersedia di server.', true);
      el.setAttribute('data-rendered', 'error');
      return;
    }
    var viewer = new window.BpmnJS({ container: el.querySelector('.diagram-canvas') });
    fetch(el.getAttribute('data-xml-url'), { credentials: 'same-origin', headers: { 'Accept': 'application/xml' } })
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        var marks = [['completed', 'alur-completed'], ['returned', 'alur-returned'], ['current', 'alur-current']];
        marks.forEach(function (pair) {
          ids(el, pair[0]).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
          });
        });
        canvas.zoom('fit-viewport', 'auto');
        el.querySelectorAll('[data-zoom]').forEach(function (button) {
          button.addEventListener('click', function () {
            var how = button.getAttribute('data-zoom');
            if (how === 'fit') { canvas.zoom('fit-viewport', 'auto'); return; }
            var level = canvas.zoom();
            canvas.zoom(Math.min(4, Math.max(0.2, how === 'in' ? level * 1.25 : level / 1.25)));
          });
        });
        setStatus(el, '', false);
        el.setAttribute('data-rendered', 'true');
      })
      .catch(function (err) {
        setStatus(el, 'Diagram tidak dapat ditampilkan (' + (err && err.message ? err.message : err) + ').', true);
        el.setAttribute('data-rendered', 'error');
      });
  }

  document.querySelectorAll('.diagram[data-xml-url]').forEach(draw);
}());
