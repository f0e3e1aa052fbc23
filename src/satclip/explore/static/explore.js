// satclip explore: the page. Every request goes to the server that served it.
"use strict";

(async function () {
  const info = await (await fetch("/api/info")).json();
  const query = new URLSearchParams(location.search);
  const state = { layer: "pca", opacity: 1, month: 0, ref: null, vmin: null, pointsCol: null };
  const $ = (id) => document.getElementById(id);
  const wrapLon = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
  const fixed = (v) => Number(v.toFixed(5));
  const bounds = [[-90, -180], [90, 180]];
  const seasonal = info.models.some((m) => m.seasonal);
  const maps = [];
  let syncing = false;

  function monthParam(i) {
    return info.models[i].seasonal && state.month ? `&month=${state.month}` : "";
  }

  function overlayUrl(i) {
    if (state.layer === "sim") {
      const r = state.ref;
      return `/tiles/sim/${i}/{z}/{x}/{y}.png?lon=${r.lon}&lat=${r.lat}&vmin=${state.vmin}${monthParam(i)}`;
    }
    return `/tiles/pca/${i}/{z}/{x}/{y}.png?${monthParam(i).slice(1)}`;
  }

  function refresh() {
    for (const [i, entry] of maps.entries()) {
      if (state.layer === "none") {
        entry.map.removeLayer(entry.overlay);
        continue;
      }
      entry.overlay.setOpacity(state.opacity);
      const url = overlayUrl(i);
      if (entry.overlay._url !== url) entry.overlay.setUrl(url);
      if (!entry.map.hasLayer(entry.overlay)) entry.overlay.addTo(entry.map);
    }
    const bar = $("colorbar");
    bar.hidden = state.layer !== "sim";
    if (state.layer === "sim") {
      $("vmin").textContent = state.vmin.toFixed(2);
      $("vmax").textContent = "1";
      $("ramp").style.background = `linear-gradient(to right, ${info.colormap.join(", ")})`;
    }
  }

  function exportHref(i, format) {
    const entry = maps[i];
    const b = entry.map.getBounds();
    const size = entry.map.getSize();
    const w = Math.max(-180, b.getWest());
    const e = Math.min(180, b.getEast());
    const s = Math.max(-90, b.getSouth());
    const n = Math.min(90, b.getNorth());
    let width = Math.round(size.x * (e - w) / (b.getEast() - b.getWest()));
    let height = Math.round(size.y * (n - s) / (b.getNorth() - b.getSouth()));
    const shrink = Math.min(1, Math.sqrt((1 << 20) / (width * height)));
    width = Math.max(1, Math.floor(width * shrink));
    height = Math.max(1, Math.floor(height * shrink));
    const layer = state.layer === "none" ? "base" : state.layer;
    let href = `/api/export?format=${format}&layer=${layer}&m=${i}&bbox=${[w, s, e, n].map(fixed).join(",")}` +
      `&width=${width}&height=${height}${monthParam(i)}`;
    if (layer === "sim") href += `&lon=${state.ref.lon}&lat=${state.ref.lat}&vmin=${state.vmin}`;
    return href;
  }

  function addMap(model, i) {
    const pane = document.createElement("div");
    pane.className = "map-pane";
    const div = document.createElement("div");
    div.className = "map";
    div.id = `map${i}`;
    pane.append(div);
    const title = document.createElement("div");
    title.className = "map-title";
    title.textContent = model.label + (model.seasonal ? " (seasonal)" : "");
    pane.append(title);
    const exp = document.createElement("div");
    exp.className = "map-export";
    exp.innerHTML = 'export view: <a data-format="png">PNG</a><a data-format="tif">GeoTIFF</a>';
    for (const a of exp.querySelectorAll("a")) {
      a.href = "#";
      a.addEventListener("mousedown", () => { a.href = exportHref(i, a.dataset.format); });
      a.addEventListener("focus", () => { a.href = exportHref(i, a.dataset.format); });
      a.download = `satclip-${i}.${a.dataset.format}`;
    }
    pane.append(exp);
    $("maps").append(pane);
    const map = L.map(div, {
      crs: L.CRS.EPSG4326, minZoom: 0, maxZoom: info.max_zoom, maxBounds: bounds,
      maxBoundsViscosity: 1, worldCopyJump: false, preferCanvas: true,
    });
    map.attributionControl.setPrefix("Leaflet");
    const tileOpts = { tileSize: info.tile, noWrap: true, bounds: bounds, maxZoom: info.max_zoom };
    const base = L.tileLayer("/tiles/base/{z}/{x}/{y}.png", {
      ...tileOpts, attribution: "Blue Marble NG: NASA Earth Observatory",
    }).addTo(map);
    const overlay = L.tileLayer(overlayUrl(i), tileOpts).addTo(map);
    const entry = { map, base, overlay, marker: null, points: null };
    maps.push(entry);

    map.on("move", () => {
      if (syncing) return;
      syncing = true;
      for (const other of maps) {
        if (other !== entry) other.map.setView(map.getCenter(), map.getZoom(), { animate: false });
      }
      syncing = false;
    });
    map.on("click", (e) => choose(wrapLon(e.latlng.lng), e.latlng.lat));
    let pending = null;
    let seq = 0;
    map.on("mousemove", (e) => {
      pending = e.latlng;
      if (entry.busy) return;
      entry.busy = true;
      setTimeout(async () => {
        const at = pending;
        const mine = ++seq;
        const lon = fixed(wrapLon(at.lng));
        const lat = fixed(Math.max(-90, Math.min(90, at.lat)));
        let url = `/api/probe?m=${i}&lon=${lon}&lat=${lat}${monthParam(i)}`;
        if (state.ref) url += `&ref_lon=${state.ref.lon}&ref_lat=${state.ref.lat}`;
        try {
          const r = await (await fetch(url)).json();
          if (mine === seq) showHover(model, r);
        } finally {
          entry.busy = false;
        }
      }, 80);
    });
    return entry;
  }

  function showHover(model, r) {
    const el = $("hover");
    const sim = r.similarity === null ? "click a place first" : r.similarity.toFixed(4);
    const ood = r.ood_km === null ? "unknown (no training index in the model file)" : `${r.ood_km.toFixed(1)} km`;
    el.textContent = `${model.label}: lon ${r.lon.toFixed(4)}, lat ${r.lat.toFixed(4)} | similarity ${sim} | ` +
      `nearest pretraining place ${ood}${r.on_water ? " | on water" : ""}`;
    el.dataset.lon = r.lon;
    el.dataset.lat = r.lat;
    el.dataset.similarity = r.similarity === null ? "" : r.similarity;
    el.dataset.oodKm = r.ood_km === null ? "" : r.ood_km;
  }

  async function choose(lon, lat) {
    lon = fixed(lon);
    lat = fixed(lat);
    const month = seasonal && state.month ? `&month=${state.month}` : "";
    const r = await (await fetch(`/api/click?lon=${lon}&lat=${lat}${month}`)).json();
    if (r.error) { $("hover").textContent = r.error; return; }
    state.ref = { lon, lat };
    state.vmin = r.vmin;
    const select = $("layer");
    select.querySelector('option[value="sim"]').disabled = false;
    select.value = state.layer = "sim";
    for (const entry of maps) {
      if (entry.marker) entry.marker.remove();
      entry.marker = L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 2, fill: false }).addTo(entry.map);
    }
    refresh();
  }

  // Points: coloured by a column, numbers on the colour ramp, text by category.
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  let points = null;

  function pointColours(name) {
    const col = points.columns[name];
    if (!col) return { colours: points.lon.map(() => "#ff0"), legend: [] };
    if (col.kind === "category") {
      const cats = [...new Set(col.values.filter((v) => v !== null))];
      const of = (v) => (v === null ? "#888" : palette[cats.indexOf(v) % palette.length]);
      return { colours: col.values.map(of), legend: cats.map((c) => [of(c), c]) };
    }
    const vals = col.values.filter((v) => v !== null);
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const stops = info.colormap;
    const of = (v) => (v === null ? "#888" : stops[Math.round(((v - lo) / ((hi - lo) || 1)) * (stops.length - 1))]);
    return { colours: col.values.map(of), legend: [[stops[0], lo.toPrecision(4)], [stops[stops.length - 1], hi.toPrecision(4)]] };
  }

  function drawPoints() {
    const { colours, legend } = pointColours(state.pointsCol);
    for (const entry of maps) {
      if (entry.points) entry.points.remove();
      if (entry.legend) entry.legend.remove();
      const renderer = L.canvas({ padding: 0.2 });
      entry.points = L.layerGroup(points.lon.map((lon, k) =>
        L.circleMarker([points.lat[k], lon], { renderer, radius: 3, weight: 0.5, color: "#000", fillColor: colours[k], fillOpacity: 0.9 })
      )).addTo(entry.map);
      entry.legend = L.control({ position: "bottomright" });
      entry.legend.onAdd = () => {
        const div = L.DomUtil.create("div", "legend");
        div.innerHTML = `<b>${state.pointsCol || "points"}</b><br>` +
          legend.map(([c, label]) => `<i style="background:${c}"></i>${label}`).join("<br>");
        return div;
      };
      entry.legend.addTo(entry.map);
    }
  }

  info.models.forEach(addMap);
  const zoom = Number(query.get("zoom") ?? 1);
  const center = [Number(query.get("lat") ?? 20), Number(query.get("lon") ?? 0)];
  for (const entry of maps) entry.map.setView(center, zoom, { animate: false });

  $("layer").addEventListener("change", (e) => { state.layer = e.target.value; refresh(); });
  $("opacity").addEventListener("input", (e) => { state.opacity = e.target.value / 100; refresh(); });
  if (seasonal) {
    $("month-box").hidden = false;
    const names = ["annual", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    $("month").addEventListener("input", (e) => { $("month-label").textContent = names[e.target.value]; });
    $("month").addEventListener("change", (e) => {
      state.month = Number(e.target.value);
      if (state.ref) choose(state.ref.lon, state.ref.lat); else refresh();
    });
  }
  if (info.points) {
    points = await (await fetch("/api/points")).json();
    const select = $("points-col");
    for (const name of ["", ...info.points.columns]) {
      const opt = document.createElement("option");
      opt.value = name;
      opt.textContent = name || "(one colour)";
      select.append(opt);
    }
    state.pointsCol = info.points.columns[0] || "";
    select.value = state.pointsCol;
    select.addEventListener("change", (e) => { state.pointsCol = e.target.value; drawPoints(); });
    $("points-box").hidden = false;
    drawPoints();
  }
  for (const entry of maps) entry.map.invalidateSize({ animate: false });
  refresh();

  // For scripts and tests: the maps, the state, and whether every visible tile has arrived.
  window.satclipExplore = {
    info, state, maps, choose,
    idle: () => maps.every((m) => !m.base.isLoading() && (!m.map.hasLayer(m.overlay) || !m.overlay.isLoading())),
  };
  document.body.dataset.ready = "1";
})();
