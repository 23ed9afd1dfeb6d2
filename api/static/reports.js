/* The reports page: the diagram as a heatmap (bpmn-js overlays) and two charts (Chart.js),
 * both served by the app. Data comes from data- attributes; no inline script or style (CSP).
 * Loading, import and status of the diagram come from viewer.js (window.AlurViewer). */
(function () {
  'use strict';

  function badge(task) {
    var box = document.createElement('div');
    box.className = 'heat-badge heat-badge-' + task.heat;
    var median = document.createElement('span');
    median.className = 'heat-median';
    median.textContent = task.n ? 'med ' + task.median : 'belum ada';
    var standard = document.createElement('span');
    standard.className = 'heat-standard';
    standard.textContent = 'std ' + task.standard + ' · n=' + task.n;
    box.appendChild(median);
    box.appendChild(standard);
    if (task.overdue) {
      var late = document.createElement('span');
      late.className = 'heat-late';
      late.textContent = task.overdue + ' terlambat';
      box.appendChild(late);
    }
    box.title = 'Median ' + task.median + ', standar ' + task.standard + ', selesai ' + task.n +
      ', antrean ' + task.backlog + ', terlambat ' + task.overdue;
    return box;
  }

  function flowLabel(count) {
    var label = document.createElement('div');
    label.className = 'flow-count' + (count ? ' flow-count-used' : '');
    label.textContent = '\u21a9 ' + count + '\u00d7';
    label.title = 'Dikembalikan ' + count + ' kali lewat alur ini';
    return label;
  }

  function heatmap(el) {
    var data = JSON.parse(el.getAttribute('data-heat') || '{"tasks":{},"flows":{}}');
    window.AlurViewer.open(el, function (viewer) {
      var canvas = viewer.get('canvas');
      var registry = viewer.get('elementRegistry');
      var overlays = viewer.get('overlays');
      Object.keys(data.tasks).forEach(function (id) {
        var element = registry.get(id);
        if (!element) { return; }
        canvas.addMarker(id, 'heat-' + data.tasks[id].heat);
        overlays.add(id, 'heat', { position: { bottom: -4, left: -6 }, html: badge(data.tasks[id]) });
      });
      Object.keys(data.flows).forEach(function (id) {
        var flow = registry.get(id);
        if (!flow || !flow.waypoints || !flow.waypoints.length) { return; }
        var xs = flow.waypoints.map(function (p) { return p.x; });
        var ys = flow.waypoints.map(function (p) { return p.y; });
        var left = Math.min.apply(null, xs), top = Math.min.apply(null, ys);
        var mid = flow.waypoints[Math.floor(flow.waypoints.length / 2)];
        overlays.add(id, 'flow', { position: { left: mid.x - left - 14, top: mid.y - top - 22 },
          html: flowLabel(data.flows[id]) });
      });
      canvas.zoom('fit-viewport', 'auto');
      var box = canvas.viewbox();
      if (box.outer.width < 700 && box.inner.height > 0) {
        // a phone: fill the height and let people pan sideways, rather than a strip too small to read
        var scale = Math.min(box.outer.height / (box.inner.height + 40), 0.8);
        canvas.viewbox({ x: box.inner.x - 10, y: box.inner.y - 20, width: box.outer.width / scale,
          height: box.outer.height / scale });
      }
    });
  }

  function charts() {
    if (typeof window.Chart !== 'function') { return; }
    var lead = document.getElementById('chart-lead');
    var late = document.getElementById('chart-overdue');
    var common = { responsive: true, maintainAspectRatio: false, animation: false };
    if (lead) {
      var weeks = JSON.parse(lead.getAttribute('data-chart')).weeks;
      new window.Chart(lead, {
        type: 'line',
        data: {
          labels: weeks.map(function (w) { return w.label; }),
          datasets: [{ label: 'Median waktu tempuh (jam)', data: weeks.map(function (w) { return w.hours; }),
            borderColor: '#1f5fa8', backgroundColor: 'rgba(31, 95, 168, .15)', fill: true, tension: 0.2,
            pointRadius: weeks.length > 40 ? 0 : 3 }]
        },
        options: Object.assign({}, common, { scales: { y: { beginAtZero: true, title: { display: true, text: 'jam' } } } })
      });
      lead.setAttribute('data-rendered', 'true');
    }
    if (late) {
      var steps = JSON.parse(late.getAttribute('data-chart')).steps;
      new window.Chart(late, {
        type: 'bar',
        data: {
          labels: steps.map(function (s) { return s.label.length > 22 ? s.label.slice(0, 21) + '\u2026' : s.label; }),
          datasets: [
            { label: 'Terlambat', data: steps.map(function (s) { return s.overdue; }), backgroundColor: '#c0392b' },
            { label: 'Menunggu (belum terlambat)', data: steps.map(function (s) { return s.backlog - s.overdue; }),
              backgroundColor: '#9fbbd9' }
          ]
        },
        options: Object.assign({}, common, { indexAxis: 'y',
          scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
            y: { stacked: true, ticks: { autoSkip: false, font: { size: 11 } } } } })
      });
      late.setAttribute('data-rendered', 'true');
    }
  }

  document.querySelectorAll('.heatmap[data-xml-url]').forEach(heatmap);
  charts();
}());
