// meterline dashboard client: keeps the server-rendered page live. Each
// <script type="application/json" data-live="scope"> names a GraphQL query the page was rendered
// from; this script re-runs it against POST /graphql (same origin, session cookie) on an
// interval and writes the answer into the elements of that scope:
//   [data-bind="path"]            text of the value at path (data-format picks how it reads)
//   [data-list="path"]            one row per item, cloned from the <template> inside it
//   [data-link-path="path"]       href = data-link-prefix + the value at path
//   [data-charts="path"]          one uPlot chart per meter (its minute buckets)
// It never reloads the page; failures show in [data-live-status] and are retried with backoff.
(() => {
  const MINUTE_MS = 60_000;
  const MAX_BACKOFF_MS = 60_000;

  function valueAt(data, path) {
    let value = data;
    for (const part of path.split(".")) {
      if (value === null || value === undefined) {
        return null;
      }
      value = value[part];
    }
    return value === undefined ? null : value;
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function utc(iso, withTime) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) {
      return String(iso);
    }
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    return withTime
      ? `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
      : day;
  }

  // Keep in step with functions/dashboard/format.ts, which renders the first paint.
  const FORMATS = {
    text: (v) => String(v),
    int: (v) => Number(v).toLocaleString("en-US"),
    time: (v) => `${utc(v, true)} UTC`,
    date: (v) => utc(v, false),
    ms: (v) => `${Number(v).toLocaleString("en-US")} ms`,
    bool: (v) => (v ? "yes" : "no"),
    lower: (v) => String(v).toLowerCase().replaceAll("_", " "),
    reasons: (v) =>
      Array.isArray(v) && v.length > 0
        ? v.map((r) => `${r.rule} (+${r.points}): ${r.detail}`).join("; ")
        : "—",
    counts: (v) =>
      Array.isArray(v) && v.length > 0
        ? v.map((c) => `${String(c.status).toLowerCase()} ${c.count}`).join(", ")
        : "none",
    disputes: (v) =>
      Array.isArray(v) && v.length > 0
        ? v.map((d) => `${d.status} (${d.reason}) ${d.amount.formatted}`).join("; ")
        : "none",
    list: (v) => (Array.isArray(v) && v.length > 0 ? v.join("; ") : "—"),
  };
  const LIST_FORMATS = new Set(["reasons", "counts", "disputes", "list"]);

  function show(el, value) {
    const kind = el.dataset.format || "text";
    const empty =
      value === null || (Array.isArray(value) && value.length === 0 && !LIST_FORMATS.has(kind));
    const text = empty ? "—" : (FORMATS[kind] || FORMATS.text)(value);
    if (el.textContent !== text) {
      el.textContent = text;
    }
    if (el.dataset.badge !== undefined) {
      el.className = `badge badge-${empty ? "none" : String(value).toLowerCase()}`;
    }
  }

  function link(el, data) {
    const value = valueAt(data, el.dataset.linkPath);
    if (value !== null) {
      el.setAttribute("href", `${el.dataset.linkPrefix || ""}${encodeURIComponent(value)}`);
    }
  }

  function fillRow(fragment, item) {
    for (const el of fragment.querySelectorAll("[data-bind]")) {
      show(el, valueAt(item, el.dataset.bind));
    }
    for (const el of fragment.querySelectorAll("[data-link-path]")) {
      link(el, item);
    }
  }

  function renderList(list, data) {
    const template = list.querySelector(":scope > template");
    if (!template) {
      return;
    }
    const items = valueAt(data, list.dataset.list) || [];
    for (const child of [...list.children]) {
      if (child !== template) {
        child.remove();
      }
    }
    if (items.length === 0) {
      const row = document.createElement(list.tagName === "TBODY" ? "tr" : "li");
      row.className = "empty";
      const cell = list.tagName === "TBODY" ? document.createElement("td") : row;
      if (cell !== row) {
        cell.colSpan = template.content.firstElementChild?.children.length || 1;
        row.append(cell);
      }
      cell.textContent = list.dataset.empty || "Nothing yet";
      list.append(row);
      return;
    }
    for (const item of items) {
      const fragment = template.content.cloneNode(true);
      const first = fragment.firstElementChild;
      if (first && list.dataset.keyPath) {
        first.dataset.key = String(valueAt(item, list.dataset.keyPath));
      }
      fillRow(fragment, item);
      list.append(fragment);
    }
  }

  const charts = new Map();

  function minuteSeries(meter, span) {
    const byMinute = new Map();
    for (const bucket of valueAt(meter, "buckets.nodes") || []) {
      byMinute.set(new Date(bucket.minute).getTime(), Number(bucket.quantity));
    }
    const xs = [];
    const ys = [];
    for (let t = span.fromMs; t < span.toMs; t += MINUTE_MS) {
      xs.push(t / 1000);
      ys.push(byMinute.get(t) ?? 0);
    }
    return [xs, ys];
  }

  function chartFor(host, meter) {
    let card = host.querySelector(`[data-chart-key="${CSS.escape(meter.key)}"]`);
    if (!card) {
      card = document.createElement("figure");
      card.className = "chart";
      card.dataset.chartKey = meter.key;
      const caption = document.createElement("figcaption");
      card.append(caption, Object.assign(document.createElement("div"), { className: "plot" }));
      host.append(card);
    }
    card.querySelector("figcaption").textContent =
      `${meter.name} (${meter.key}) — ${meter.unit} per minute, UTC`;
    return card;
  }

  function renderCharts(host, data, span) {
    if (typeof uPlot !== "function") {
      return;
    }
    for (const meter of valueAt(data, host.dataset.charts) || []) {
      const card = chartFor(host, meter);
      const plot = card.querySelector(".plot");
      const series = minuteSeries(meter, span);
      const id = `${host.dataset.charts}:${meter.key}`;
      const existing = charts.get(id);
      if (existing?.root.isConnected) {
        existing.setData(series);
        continue;
      }
      const chart = new uPlot(
        {
          width: Math.max(plot.clientWidth, 280),
          height: 180,
          scales: { x: { time: true } },
          series: [
            { label: "minute (UTC)" },
            {
              label: meter.unit,
              stroke: "#2463eb",
              fill: "rgba(36, 99, 235, 0.12)",
              width: 2,
              points: { show: false },
            },
          ],
          axes: [{ stroke: "#444" }, { stroke: "#444" }],
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        },
        series,
        plot,
      );
      charts.set(id, chart);
      new ResizeObserver(() =>
        chart.setSize({ width: Math.max(plot.clientWidth, 280), height: 180 }),
      ).observe(plot);
    }
  }

  function spanOf(block) {
    if (!block.span) {
      return null;
    }
    const toMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    return { fromMs: toMs - block.span.minutes * MINUTE_MS, toMs };
  }

  function apply(block, data, span) {
    for (const root of document.querySelectorAll(`[data-scope="${block.scope}"]`)) {
      for (const el of root.querySelectorAll("[data-bind]")) {
        if (!el.closest("[data-list]")) {
          show(el, valueAt(data, el.dataset.bind));
        }
      }
      for (const el of root.querySelectorAll("[data-link-path]")) {
        if (!el.closest("[data-list]")) {
          link(el, data);
        }
      }
      for (const list of root.querySelectorAll("[data-list]")) {
        renderList(list, data);
      }
      if (span) {
        for (const host of root.querySelectorAll("[data-charts]")) {
          renderCharts(host, data, span);
        }
      }
    }
  }

  function setStatus(block, text, state) {
    for (const el of document.querySelectorAll(`[data-live-status="${block.scope}"]`)) {
      el.textContent = text;
      el.dataset.state = state;
      el.dataset.updates = String(block.updates);
    }
  }

  async function poll(block) {
    const span = spanOf(block);
    const variables = { ...block.variables };
    if (span) {
      variables.bucketsFrom = new Date(span.fromMs).toISOString();
      variables.bucketsTo = new Date(span.toMs).toISOString();
    }
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query: block.query, variables }),
      });
      if (response.status === 401) {
        setStatus(block, "Signed out: sign in again to resume live updates.", "signed-out");
        return;
      }
      const body = await response.json();
      if (body.data) {
        block.updates += 1;
        apply(block, body.data, span);
      }
      const errors = body.errors || [];
      const time = utc(new Date().toISOString(), true).slice(11);
      if (errors.length > 0) {
        const codes = [...new Set(errors.map((e) => e.extensions?.code || "ERROR"))].join(", ");
        setStatus(
          block,
          `Live, partly: ${errors.length} part(s) failed (${codes}) at ${time} UTC`,
          "partial",
        );
      } else {
        setStatus(block, `Live · updated ${time} UTC`, "live");
      }
      block.delayMs = block.intervalMs;
    } catch (error) {
      block.delayMs = Math.min(block.delayMs * 2, MAX_BACKOFF_MS);
      setStatus(
        block,
        `Stale: update failed (${error.message}); retrying in ${Math.round(block.delayMs / 1000)} s`,
        "stale",
      );
    }
    schedule(block);
  }

  function schedule(block) {
    setTimeout(() => {
      if (document.hidden) {
        document.addEventListener("visibilitychange", () => poll(block), { once: true });
      } else {
        poll(block);
      }
    }, block.delayMs);
  }

  for (const script of document.querySelectorAll('script[type="application/json"][data-live]')) {
    const spec = JSON.parse(script.textContent);
    const block = { ...spec, scope: script.dataset.live, updates: 0, delayMs: spec.intervalMs };
    // The first paint came from the server; draw its charts now, then keep it fresh.
    const span = spec.span
      ? {
          fromMs: Date.parse(spec.variables.bucketsFrom),
          toMs: Date.parse(spec.variables.bucketsTo),
        }
      : null;
    apply(block, spec.data, span);
    schedule(block);
  }
})();
