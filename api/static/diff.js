/* The difference page: two bpmn-js viewers (before / after) with the server's element status as
 * CSS markers (data-added, data-removed, data-changed: space-separated element ids), and the
 * change table linked to them: clicking a row centres both diagrams on that element. */
(function () {
  'use strict';

  var MARKS = [['added', 'alur-added'], ['removed', 'alur-removed'], ['changed', 'alur-changed']];
  var viewers = [];

  function ids(el, name) {
    return (el.getAttribute('data-' + name) || '').split(/\s+/).filter(Boolean);
  }

  function setStatus(el, text, isError) {
    var status = el.querySelector('.diagram-status');
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
    viewers.push(viewer);
    fetch(el.getAttribute('data-xml-url'), { credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        MARKS.forEach(function (pair) {
          ids(el, pair[0]).forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
          });
        });
        canvas.zoom('fit-viewport', 'auto');
        setStatus(el, '', false);
        el.setAttribute('data-rendered', 'true');
      })
      .catch(function (err) {
        setStatus(el, 'Diagram tidak dapat ditampilkan (' + (err && err.message ? err.message : err) + ').', true);
        el.setAttribute('data-rendered', 'error');
      });
  }

  function focus(elementId) {
    viewers.forEach(function (viewer) {
      var element = viewer.get('elementRegistry').get(elementId);
      if (element) { viewer.get('canvas').scrollToElement(element); }
    });
  }

  document.querySelectorAll('.diff-diagram[data-xml-url]').forEach(draw);
  document.querySelectorAll('#changes tr[data-element]').forEach(function (row) {
    var id = row.getAttribute('data-element');
    if (!id) { return; }
    row.classList.add('is-clickable');
    row.addEventListener('click', function () { focus(id); });
  });
}());
