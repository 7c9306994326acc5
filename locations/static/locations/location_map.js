/* The staff map of locations (templates/admin/locations/location/map.html). Leaflet is served from our own
   static files; tiles come from the configured tile server when it answers. Without tiles (offline) the
   markers are still drawn on a blank background, and the table under the map lists every location. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("location-map-config").textContent);
  var note = document.getElementById("location-map-note");
  var element = document.getElementById("location-map");
  function say(text) { note.textContent = text; }
  if (typeof L === "undefined") {
    element.style.display = "none";
    say("The map could not be loaded: see the table of locations below.");
    return;
  }
  var map = L.map(element, { preferCanvas: true }).setView([52.1, 5.1], 7);
  var tilesFailed = false;
  if (config.tileUrl) {
    var tiles = L.tileLayer(config.tileUrl, { maxZoom: 19, attribution: config.attribution });
    tiles.on("tileerror", function () {
      if (!tilesFailed) {
        tilesFailed = true;
        say("Map tiles could not be loaded (offline?): the markers are drawn without a background map, "
          + "and the table below lists the locations.");
      }
    });
    tiles.addTo(map);
  }
  var markers = L.layerGroup().addTo(map);

  function popup(location) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = config.changeUrl.replace("{id}", String(location.id));
    link.textContent = location.party + "/" + location.ocpi_id + (location.name ? " " + location.name : "");
    box.appendChild(link);
    var city = document.createElement("div");
    city.textContent = location.city;
    box.appendChild(city);
    var counts = document.createElement("div");
    var parts = [];
    Object.keys(location.counts).forEach(function (status) { parts.push(status + ": " + location.counts[status]); });
    counts.textContent = parts.length ? parts.join(", ") : "No EVSEs";
    box.appendChild(counts);
    return box;
  }

  var first = true;
  function load() {
    var url = config.dataUrl;
    if (!first) {
      var b = map.getBounds();
      function clamp(value, bound) { return Math.max(-bound, Math.min(bound, value)).toFixed(5); }
      // Zoomed far out Leaflet's bounds pass the poles and the antimeridian: then ask for the whole world.
      var wide = b.getEast() - b.getWest() >= 360;
      function wrap(lng) { return ((((lng + 180) % 360) + 360) % 360 - 180).toFixed(5); }  // west > east: across
      var box = [clamp(b.getSouth(), 90), wide ? "-180" : wrap(b.getWest()),
        clamp(b.getNorth(), 90), wide ? "180" : wrap(b.getEast())];
      url += "?bbox=" + box.join(",");
    }
    fetch(url, { credentials: "same-origin" }).then(function (response) { return response.json(); }).then(function (data) {
      markers.clearLayers();
      var points = [];
      data.locations.forEach(function (location) {
        var marker = L.circleMarker([location.lat, location.lng], {
          radius: 7, color: "#333", weight: 1, fillColor: location.colour, fillOpacity: 0.9
        });
        marker.bindPopup(popup(location));
        markers.addLayer(marker);
        points.push([location.lat, location.lng]);
      });
      if (first && points.length) { map.fitBounds(points, { maxZoom: 14, padding: [20, 20] }); }
      first = false;
      if (!tilesFailed) {
        say(data.locations.length + " location(s) in view" + (data.truncated ? " (not all: zoom in to see the others)" : "") + ".");
      }
    }).catch(function () { say("The locations could not be loaded: see the table below."); });
  }
  map.on("moveend", function () { if (!first) { load(); } });
  load();
})();
