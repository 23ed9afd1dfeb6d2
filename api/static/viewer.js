/* Shared bpmn-js viewer plumbing for diagram.js, diff.js and reports.js: window.AlurViewer.
 * open(el, onImported) draws the BPMN XML at el's data-xml-url into el's .diagram-canvas with the
 * NavigatedViewer served by the app, then calls onImported(viewer); el's data-rendered becomes
 * "true" or "error" and its .diagram-status says why. No inline script or style (CSP). */
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

  /* marks: [[data- name, CSS class], ...]; each id listed in el's data-<name> that the diagram
   * has gets that marker class. */
  function addMarkers(viewer, el, marks) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    marks.forEach(function (pair) {
      ids(el, pair[0]).forEach(function (id) {
        if (registry.get(id)) { canvas.addMarker(id, pair[1]); }
      });
    });
  }

  function open(el, onImported) {
    if (typeof window.BpmnJS !== 'function') {
      setStatus(el, 'Diagram tidak dapat ditampilkan: pustaka bpmn-js tidak tersedia di server.', true);
      el.setAttribute('data-rendered', 'error');
      return null;
    }
    var viewer = new window.BpmnJS({ container: el.querySelector('.diagram-canvas') });
    fetch(el.getAttribute('data-xml-url'), { credentials: 'same-origin', headers: { 'Accept': 'application/xml' } })
      .then(function (response) {
        if (!response.ok) { throw new Error('HTTP ' + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        if (onImported) { onImported(viewer); }
        setStatus(el, '', false);
        el.setAttribute('data-rendered', 'true');
      })
      .catch(function (err) {
        setStatus(el, 'Diagram tidak dapat ditampilkan (' + (err && err.message ? err.message : err) + ').', true);
        el.setAttribute('data-rendered', 'error');
      });
    return viewer;
  }

  window.AlurViewer = { ids: ids, setStatus: setStatus, addMarkers: addMarkers, open: open };
}());
