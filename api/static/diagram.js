/* Draws the process diagram with bpmn-js (NavigatedViewer, served from the app) and marks
 * the steps named in data- attributes: data-current, data-completed, data-returned
 * (space-separated BPMN element ids). No inline script or style: markers are CSS classes.
 * Loading, import and status come from viewer.js (window.AlurViewer). */
(function () {
  'use strict';

  var MARKS = [['completed', 'alur-completed'], ['returned', 'alur-returned'], ['current', 'alur-current']];

  function draw(el) {
    window.AlurViewer.open(el, function (viewer) {
      var canvas = viewer.get('canvas');
      window.AlurViewer.addMarkers(viewer, el, MARKS);
      canvas.zoom('fit-viewport', 'auto');
      el.querySelectorAll('[data-zoom]').forEach(function (button) {
        button.addEventListener('click', function () {
          var how = button.getAttribute('data-zoom');
          if (how === 'fit') { canvas.zoom('fit-viewport', 'auto'); return; }
          var level = canvas.zoom();
          canvas.zoom(Math.min(4, Math.max(0.2, how === 'in' ? level * 1.25 : level / 1.25)));
        });
      });
    });
  }

  document.querySelectorAll('.diagram[data-xml-url]').forEach(draw);
}());
