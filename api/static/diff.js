/* The difference page: two bpmn-js viewers (before / after) with the server's element status as
 * CSS markers (data-added, data-removed, data-changed: space-separated element ids), and the
 * change table linked to them: clicking a row centres both diagrams on that element.
 * Loading, import and status come from viewer.js (window.AlurViewer). */
(function () {
  'use strict';

  var MARKS = [['added', 'alur-added'], ['removed', 'alur-removed'], ['changed', 'alur-changed']];
  var viewers = [];

  function draw(el) {
    var viewer = window.AlurViewer.open(el, function (shown) {
      window.AlurViewer.addMarkers(shown, el, MARKS);
      shown.get('canvas').zoom('fit-viewport', 'auto');
    });
    if (viewer) { viewers.push(viewer); }
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
