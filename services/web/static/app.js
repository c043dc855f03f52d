// The vrs page: a photo (file, drop, paste or URL) or a product in, similar products out.
// The shopper may draw a box on the photo (mouse, touch or keyboard) to search on that part.
// Products a little over the budget come apart, under the results; every card offers similar
// products that are cheaper; a calibrated catalog labels each match (close, similar, weak).
// Plain script, no build step: it talks to the gateway's JSON API next to it.
"use strict";

(function () {
  const DEFAULT_MAX_PRICE = 500;
  const TOKEN_KEY = "vrs.token";
  // Sliders fire on every step; wait for the hand to rest before asking the server.
  const SETTLE_MS = 250;
  // Drags shorter than this share of a side are clicks, not boxes.
  const CLICK_SIDE = 0.02;
  // The keyboard moves and resizes the box by this share of a side per key press.
  const KEY_STEP = 0.02;
  const KEY_MIN_SIDE = 0.04;
  const DEFAULT_BOX = { x: 0.25, y: 0.25, width: 0.5, height: 0.5 };
  // One card per variant group (a style): its other colours within the filters come with it.
  const COLLAPSE = "group";
  // How close a match is, by the catalog's calibration (no label without one): said in words,
  // colour only helps.
  const MATCH_LABELS = { close: "Close match", similar: "Similar", weak: "Weak match" };

  const $ = (id) => document.getElementById(id);
  const els = {
    tokenForm: $("token-form"),
    token: $("token"),
    dropzone: $("dropzone"),
    file: $("image-file"),
    urlForm: $("url-form"),
    url: $("image-url"),
    filters: $("filters"),
    maxPrice: $("max-price"),
    maxPriceValue: $("max-price-value"),
    currencyField: $("currency-field"),
    currency: $("currency"),
    k: $("k"),
    category: $("category"),
    brand: $("brand"),
    inStock: $("in-stock"),
    error: $("error"),
    status: $("status"),
    results: $("results"),
    query: $("query"),
    queryPhoto: $("query-photo"),
    queryImage: $("query-image"),
    queryCaption: $("query-caption"),
    regionLayer: $("region-layer"),
    regionUsed: $("region-used"),
    regionDraft: $("region-draft"),
    regionTools: $("region-tools"),
    regionCaption: $("region-caption"),
    regionSelect: $("region-select"),
    regionClear: $("region-clear"),
    regionPosition: $("region-position"),
    notice: $("notice"),
    grid: $("grid"),
    overBudget: $("over-budget"),
    overGrid: $("over-grid"),
    catalogInfo: $("catalog-info"),
    template: $("card-template"),
  };

  // The query the results answer: {kind: "file", file, region} | {kind: "uri", uri, region} |
  // {kind: "product", id, cheaper, currency}; region: the shopper's box ({x, y, width, height},
  // fractions of the photo) or null (the server finds the main item); cheaper: only products
  // priced below that one (in its currency, when known).
  let current = null;
  // The region the last answer used ({x, y, width, height, source}), null before one.
  let used = null;
  // The box being drawn: {box, mode: "drag" | "keys"}, null when none.
  let draft = null;
  // The pointer dragging a box: {id, x, y} (where it went down), null when none.
  let drag = null;
  // What the query photo shows (a File, a URI or a product id), so searches of the same photo
  // (other filters, another box) do not reload it.
  let shownPhoto = null;
  let generation = 0;
  let inFlight = null;
  let settleTimer = null;
  const objectUrls = new Set();

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function authHeaders() {
    const value = token();
    return value ? { Authorization: "Bearer " + value } : {};
  }

  async function api(path, init) {
    const options = Object.assign({}, init || {});
    options.headers = Object.assign({ Accept: "application/json" }, authHeaders(), options.headers);
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "UNAVAILABLE", "Cannot reach the server; is it running?");
    }
    if (response.ok) return response;
    throw await errorOf(response);
  }

  async function errorOf(response) {
    let code = "HTTP_" + response.status;
    let message = "The server answered " + response.status + " " + response.statusText + ".";
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) {
        code = body.error.code || code;
        message = body.error.message;
      } else if (body && typeof body.detail === "string") {
        message = body.detail;
      }
    } catch (_) {
      // Not JSON (a proxy's page, say): the status line is the best we have.
    }
    if (response.status === 401 || response.status === 403) showTokenForm();
    if (response.status === 413) message = "That file is too large. " + message;
    return new ApiError(response.status, code, message);
  }

  function showTokenForm() {
    els.tokenForm.hidden = false;
  }

  // ---------- filters ----------

  function filters() {
    const result = { k: clampInt(els.k.value, 1, 100, 12), collapse: COLLAPSE };
    const price = Number(els.maxPrice.value);
    if (price < Number(els.maxPrice.max)) {
      result.max_price = price;
      // A catalog priced in several currencies: the budget says which one it is in.
      const currency = budgetCurrency();
      if (currency) result.currency = currency;
    }
    if (els.category.value) result.categories = [els.category.value];
    if (els.brand.value) result.brands = [els.brand.value];
    if (els.inStock.checked) result.in_stock = true;
    return result;
  }

  function budgetCurrency() {
    return els.currencyField.hidden ? "" : els.currency.value;
  }

  // The filters of a query: "similar, cheaper" compares prices in the product's currency, so a
  // budget in another one is left out (the product, within it, already bounds the prices).
  function filtersFor(query) {
    const f = filters();
    const other = f.currency && query.currency && f.currency !== query.currency;
    if (query.kind === "product" && query.cheaper && other) {
      delete f.max_price;
      delete f.currency;
    }
    return f;
  }

  function clampInt(text, low, high, fallback) {
    const value = Math.round(Number(text));
    if (!Number.isFinite(value) || text === "") return fallback;
    return Math.min(high, Math.max(low, value));
  }

  // The filters as query-string or form fields: [name, value] pairs, category and brand
  // repeated.
  function filterFields(f) {
    const fields = [["k", String(f.k)], ["collapse", f.collapse]];
    if (f.max_price !== undefined) fields.push(["max_price", String(f.max_price)]);
    if (f.currency) fields.push(["currency", f.currency]);
    for (const c of f.categories || []) fields.push(["category", c]);
    for (const b of f.brands || []) fields.push(["brand", b]);
    if (f.in_stock) fields.push(["in_stock", "true"]);
    return fields;
  }

  function asQueryString(f) {
    return new URLSearchParams(filterFields(f)).toString();
  }

  function asFormData(file, f, region) {
    const form = new FormData();
    form.append("image", file, file.name || "photo");
    if (region) form.append("region", regionText(region));
    for (const [name, value] of filterFields(f)) form.append(name, value);
    return form;
  }

  function showBudget() {
    const price = Number(els.maxPrice.value);
    const currency = budgetCurrency();
    els.maxPriceValue.textContent = price < Number(els.maxPrice.max)
      ? "up to " + price.toFixed(2) + (currency ? " " + currency : "")
      : "any price";
  }

  // ---------- searching ----------

  function request(query, f, signal) {
    if (query.kind === "product") {
      const cheaper = query.cheaper ? "&cheaper=true" : "";
      const path = "v1/products/" + encodeURIComponent(query.id) + "/similar?" +
        asQueryString(f) + cheaper;
      return api(path, { signal });
    }
    if (query.kind === "file") {
      const body = asFormData(query.file, f, query.region);
      return api("v1/search/image", { method: "POST", body, signal });
    }
    const body = Object.assign({ image: { uri: query.uri } }, f);
    if (query.region) body.region = Object.assign({}, query.region);
    return api("v1/search/image", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
  }

  async function search(query) {
    current = query;
    clearTimeout(settleTimer);
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    const mine = ++generation;
    const f = filtersFor(query);
    clearError();
    showQuery(query);
    showUsed(null);
    els.results.setAttribute("aria-busy", "true");
    els.status.textContent = "Searching…";
    try {
      const response = await request(query, f, controller.signal);
      const answer = await response.json();
      if (mine !== generation) return;
      render(answer, f);
    } catch (err) {
      if (err.name === "AbortError" || mine !== generation) return;
      showError(err);
      // A photo the server could not read would only show as a broken image.
      els.query.hidden = true;
      endDraft();
      els.grid.replaceChildren();
      els.overGrid.replaceChildren();
      els.overBudget.hidden = true;
      els.notice.hidden = true;
      els.status.textContent = "No results.";
      els.results.dataset.maxPrice = "";
    } finally {
      if (mine === generation) {
        els.results.setAttribute("aria-busy", "false");
        inFlight = null;
      }
    }
  }

  function searchSoon() {
    if (!current) return;
    clearTimeout(settleTimer);
    settleTimer = setTimeout(() => search(current), SETTLE_MS);
  }

  function showQuery(query) {
    els.query.hidden = false;
    const photo = query.kind === "file" ? query.file : query.kind === "uri" ? query.uri : query;
    const same = shownPhoto !== null && samePhoto(shownPhoto, photo);
    shownPhoto = photo;
    els.regionTools.hidden = query.kind === "product";
    els.query.classList.toggle("selectable", query.kind !== "product");
    els.regionClear.hidden = !query.region;
    if (same) return;
    endDraft();
    els.regionLayer.hidden = true;
    if (query.kind === "file") {
      setImage(els.queryImage, trackedObjectUrl(query.file));
      els.queryImage.alt = "Your photo";
      els.queryCaption.textContent = "Your photo" + (query.file.name ? ": " + query.file.name : "");
      els.query.dataset.productId = "";
      els.query.dataset.cheaper = "";
    } else if (query.kind === "uri") {
      els.queryImage.src = query.uri;
      els.queryImage.alt = "The photo at " + query.uri;
      els.queryCaption.textContent = query.uri;
      els.query.dataset.productId = "";
      els.query.dataset.cheaper = "";
    } else {
      setImage(els.queryImage, "v1/products/" + encodeURIComponent(query.id) + "/image");
      els.queryImage.alt = "Product " + query.id;
      els.queryCaption.textContent = (query.cheaper ? "Cheaper than " : "More like ") + query.id;
      els.query.dataset.productId = query.id;
      els.query.dataset.cheaper = query.cheaper ? "true" : "";
      describeProduct(query);
    }
  }

  function samePhoto(a, b) {
    if (a === b) return true;
    return typeof a === "object" && typeof b === "object" && a.kind === "product" &&
      b.kind === "product" && a.id === b.id && Boolean(a.cheaper) === Boolean(b.cheaper);
  }

  async function describeProduct(query) {
    try {
      const product = await (await api("v1/products/" + encodeURIComponent(query.id))).json();
      if (current === query || (current && samePhoto(current, query))) {
        els.queryCaption.textContent = query.cheaper
          ? "Like " + product.title + ", cheaper than " + money(product)
          : "More like " + product.title + " (" + money(product) + ")";
        els.queryImage.alt = product.title;
      }
    } catch (_) {
      // The caption keeps the id; the search itself reports what went wrong.
    }
  }

  function render(answer, f) {
    const matches = answer.matches || [];
    // Never mixed with the matches: a section of their own, under them.
    const over = answer.over_budget || [];
    els.grid.replaceChildren(...matches.map((match) => card(match, null)));
    els.overGrid.replaceChildren(...over.map((match) => card(match, f)));
    els.overBudget.hidden = over.length === 0;
    els.results.dataset.maxPrice = f.max_price === undefined ? "" : String(f.max_price);
    const within = f.max_price === undefined
      ? ""
      : " within " + f.max_price.toFixed(2) + (f.currency ? " " + f.currency : "");
    showUsed(answer.region || null);
    showNotice(matches, over, f);
    const where = used && REGION_SAYS[used.source] ? " " + REGION_SAYS[used.source] : "";
    const beyond = over.length ? " " + over.length + " a little over your budget, below." : "";
    els.status.textContent = (matches.length
      ? matches.length + " similar product" + (matches.length === 1 ? "" : "s") + within + "."
      : "No products match these filters; try a larger budget or fewer filters.") + beyond +
      where;
  }

  // Said plainly when the best match within the budget is weak (or there is none): nothing
  // close, and the closest product a little over the budget, if any.
  function showNotice(matches, over, f) {
    const budget = f.max_price !== undefined;
    const best = matches[0];
    const weak = best ? best.match === "weak" : budget;
    els.notice.hidden = !weak;
    if (!weak) {
      els.notice.replaceChildren();
      return;
    }
    const parts = [budget ? "Nothing close within your budget." : "Nothing close found."];
    const closest = over.reduce((a, b) => (b.distance < a.distance ? b : a), over[0]);
    if (closest) {
      const link = document.createElement("a");
      link.href = "#over-budget";
      link.textContent = closest.product_id;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        els.overBudget.scrollIntoView();
        els.overBudget.focus();
      });
      parts.push(" Closest a little over: ", link, " at " + money(closest) + ".");
    }
    els.notice.replaceChildren(...parts);
  }

  // A result card: the match (its photo that matched) and, with variants, a thumbnail of each
  // other colour within the filters; choosing one shows it in the card, the one it replaces
  // taking its place among the thumbnails. `budget`: the filters of a product a little over
  // them (how much over is shown), null for a match.
  function card(match, budget) {
    const node = els.template.content.firstElementChild.cloneNode(true);
    node.dataset.groupId = match.group_id || "";
    showBadge(node.querySelector(".badge"), match.match);
    if (budget) showOverBy(node, match, budget);
    const distance = "distance " + match.distance.toFixed(3);
    const view = {
      node,
      image: node.querySelector(".card-image"),
      title: node.querySelector(".card-title"),
      brand: node.querySelector(".brand"),
      category: node.querySelector(".category"),
      id: node.querySelector(".product-id"),
      price: node.querySelector(".price"),
      stock: node.querySelector(".stock"),
      distance: node.querySelector(".distance"),
      more: node.querySelector(".more"),
      cheaper: node.querySelector(".cheaper"),
      announce: node.querySelector(".variant-shown"),
      matchId: match.product_id,
      shown: null,
    };
    showMember(view, member(match, about(match)), distance);
    view.more.addEventListener("click", (event) => {
      event.preventDefault();
      history.replaceState(null, "", view.more.href);
      search({ kind: "product", id: view.shown.product_id });
      els.results.focus();
    });
    view.cheaper.addEventListener("click", (event) => {
      event.preventDefault();
      history.replaceState(null, "", view.cheaper.href);
      const shown = view.shown;
      search({ kind: "product", id: shown.product_id, cheaper: true, currency: shown.currency });
      els.results.focus();
    });
    showVariants(view, match.variants || [], distance);
    return node;
  }

  function showBadge(node, label) {
    const text = MATCH_LABELS[label];
    node.hidden = !text;
    if (!text) return;
    node.textContent = text;
    node.dataset.match = label;
    node.classList.add(label);
  }

  // How far over the budget, in the budget's currency (the catalog's only one, else the one
  // chosen).
  function showOverBy(node, match, budget) {
    const line = node.querySelector(".over-by");
    const amount = money({ price: match.over_by, currency: budget.currency || match.currency });
    line.textContent = "+" + amount + " over your budget";
    line.dataset.overBy = String(match.over_by);
    line.hidden = false;
    node.classList.add("over");
  }

  // What a card shows of a product: the match itself or one of its variants; `about` its
  // title, brand and category (null until known: variants come without them).
  function member(product, known) {
    return {
      product_id: product.product_id,
      about: known,
      price: product.price,
      currency: product.currency,
      in_stock: product.in_stock,
      image_url: product.image_url,
    };
  }

  function about(product) {
    return {
      title: product.title || product.product_id,
      brand: product.brand || "no brand",
      category: product.category || "uncategorised",
    };
  }

  function showMember(view, shown, distance) {
    view.shown = shown;
    view.node.dataset.productId = shown.product_id;
    setImage(view.image, shown.image_url);
    showAbout(view, shown);
    view.id.textContent = shown.product_id;
    view.price.textContent = money(shown);
    if (shown.price !== null && shown.price !== undefined) {
      view.price.dataset.price = shown.price;
    } else {
      delete view.price.dataset.price;
    }
    view.stock.textContent = shown.in_stock ? "in stock" : "out of stock";
    view.distance.textContent = shown.product_id === view.matchId
      ? distance
      : "another colour of the match (" + distance + ")";
    // This page in another state (opened in a new tab it searches the same), not a place on
    // it: "./#", not "#".
    view.more.href = "./#similar=" + encodeURIComponent(shown.product_id);
    view.cheaper.href = "./#cheaper=" + encodeURIComponent(shown.product_id);
    // Nothing is cheaper than a product without a price.
    view.cheaper.hidden = shown.price === null || shown.price === undefined;
    if (!shown.about) describeMember(view, shown);
  }

  // Until a variant's product is fetched: its id as title, the brand and category shown
  // before (a style's colours share them).
  function showAbout(view, shown) {
    const known = shown.about;
    const name = known ? known.title : shown.product_id;
    view.title.textContent = name;
    view.image.alt = name;
    view.more.setAttribute("aria-label", "More like this: " + name);
    view.cheaper.setAttribute("aria-label", "Similar, cheaper: " + name);
    if (!known) return;
    view.brand.textContent = known.brand;
    view.category.textContent = known.category;
  }

  async function describeMember(view, shown) {
    try {
      const path = "v1/products/" + encodeURIComponent(shown.product_id);
      shown.about = about(await (await api(path)).json());
    } catch (_) {
      // The card keeps the variant's id as its title; showing it again asks again.
      return;
    }
    if (view.shown === shown) showAbout(view, shown);
  }

  function showVariants(view, variants, distance) {
    const box = view.node.querySelector(".variants");
    if (!variants.length) return;
    const label = "also in " + variants.length + (variants.length === 1 ? " colour" : " colours");
    box.querySelector(".variants-label").textContent = label;
    const list = box.querySelector(".variant-list");
    list.setAttribute("aria-label", label);
    list.replaceChildren(
      ...variants.map((variant) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "variant";
        const thumb = document.createElement("img");
        thumb.width = 40;
        thumb.height = 40;
        thumb.loading = "lazy";
        button.append(thumb);
        let held = member(variant, null);
        showThumbnail(button, held);
        button.addEventListener("click", () => {
          const chosen = held;
          held = view.shown;
          showThumbnail(button, held);
          showMember(view, chosen, distance);
          view.announce.textContent =
            "Showing " + chosen.product_id + ", " + money(chosen) + ", " +
            (chosen.in_stock ? "in stock." : "out of stock.");
        });
        return button;
      }),
    );
    box.hidden = false;
  }

  function showThumbnail(button, shown) {
    const thumb = button.firstElementChild;
    button.dataset.productId = shown.product_id;
    setImage(thumb, shown.image_url);
    thumb.alt = "variant " + shown.product_id + ", " + money(shown);
    button.title = thumb.alt;
  }

  function money(product) {
    if (product.price === null || product.price === undefined) return "no price";
    try {
      return new Intl.NumberFormat(undefined, {
        style: "currency",
        currency: product.currency || "USD",
      }).format(product.price);
    } catch (_) {
      return product.price.toFixed(2) + " " + (product.currency || "");
    }
  }

  // ---------- the region: drawn, dragged, or moved with the keyboard ----------

  const REGION_SAYS = {
    given: "Searched on the part you selected.",
    found: "Searched on the item found in the photo.",
    whole: "Searched on the whole photo.",
  };
  const REGION_CAPTIONS = {
    given: "Searched on your selection.",
    found: "Searched on the item found (dashed box). Drag over the photo to pick another part.",
    whole: "Searched on the whole photo. Drag over it to pick a part.",
  };

  function clamp(value, low, high) {
    return Math.min(high, Math.max(low, value));
  }

  function round4(value) {
    return Math.round(value * 10000) / 10000;
  }

  // A box inside the photo, to 1/10000 of a side (the server's own precision).
  function tidy(box) {
    const x = round4(clamp(box.x, 0, 1 - CLICK_SIDE));
    const y = round4(clamp(box.y, 0, 1 - CLICK_SIDE));
    const width = round4(clamp(box.width, CLICK_SIDE, 1 - x));
    const height = round4(clamp(box.height, CLICK_SIDE, 1 - y));
    return { x, y, width, height };
  }

  function regionText(box) {
    return [box.x, box.y, box.width, box.height].map((v) => String(round4(v))).join(",");
  }

  function regionsAllowed() {
    return Boolean(current) && current.kind !== "product" && !els.query.hidden &&
      !els.regionLayer.hidden;
  }

  // Where the photo's pixels are inside the <img> box (object-fit may letterbox them), in
  // pixels from the photo frame's corner; null before the photo has loaded.
  function contentBox(img) {
    const natural = { width: img.naturalWidth, height: img.naturalHeight };
    if (!natural.width || !natural.height) return null;
    const style = getComputedStyle(img);
    const px = (value) => parseFloat(value) || 0;
    const left = img.offsetLeft + px(style.borderLeftWidth) + px(style.paddingLeft);
    const top = img.offsetTop + px(style.borderTopWidth) + px(style.paddingTop);
    const boxWidth = img.clientWidth - px(style.paddingLeft) - px(style.paddingRight);
    const boxHeight = img.clientHeight - px(style.paddingTop) - px(style.paddingBottom);
    if (boxWidth <= 0 || boxHeight <= 0) return null;
    let width = boxWidth;
    let height = boxHeight;
    const fit = style.objectFit;
    if (fit === "contain" || fit === "scale-down" || fit === "cover" || fit === "none") {
      let scale = 1;
      if (fit === "contain") scale = Math.min(boxWidth / natural.width, boxHeight / natural.height);
      if (fit === "scale-down") {
        scale = Math.min(1, boxWidth / natural.width, boxHeight / natural.height);
      }
      if (fit === "cover") scale = Math.max(boxWidth / natural.width, boxHeight / natural.height);
      width = natural.width * scale;
      height = natural.height * scale;
    }
    const [ax, ay] = objectPosition(style.objectPosition);
    return {
      left: left + (boxWidth - width) * ax,
      top: top + (boxHeight - height) * ay,
      width,
      height,
    };
  }

  // object-position as fractions of the free space (its percentages; "50% 50%" by default).
  function objectPosition(value) {
    const parts = String(value || "").trim().split(/\s+/);
    const words = { left: 0, top: 0, center: 0.5, right: 1, bottom: 1 };
    const one = (part) => {
      if (part in words) return words[part];
      const percent = /^(-?[\d.]+)%$/.exec(part || "");
      return percent ? Number(percent[1]) / 100 : 0.5;
    };
    return [one(parts[0]), one(parts[1] || parts[0])];
  }

  // Puts the box layer exactly over the photo's pixels: boxes inside it are in percentages.
  function layoutRegions() {
    const box = current && current.kind !== "product" ? contentBox(els.queryImage) : null;
    if (!box || els.query.hidden) {
      els.regionLayer.hidden = true;
      return;
    }
    Object.assign(els.regionLayer.style, {
      left: box.left + "px",
      top: box.top + "px",
      width: box.width + "px",
      height: box.height + "px",
    });
    els.regionLayer.hidden = false;
  }

  function place(node, box) {
    Object.assign(node.style, {
      left: box.x * 100 + "%",
      top: box.y * 100 + "%",
      width: box.width * 100 + "%",
      height: box.height * 100 + "%",
    });
    node.dataset.region = regionText(box);
  }

  // The region an answer used (null: none yet, a search is in flight), drawn unless "whole";
  // while a search with the shopper's box is in flight, that box, as pending.
  function showUsed(region) {
    used = region;
    const source = region ? region.source : "";
    els.query.dataset.regionSource = source;
    els.query.dataset.region = region ? regionText(region) : "";
    els.regionCaption.textContent = region ? REGION_CAPTIONS[source] || "" : "";
    drawRegions();
  }

  function drawRegions() {
    const node = els.regionUsed;
    const pending = !used && current && current.kind !== "product" ? current.region : null;
    const shown = used && used.source !== "whole" ? used : pending;
    node.classList.remove("given", "found", "pending");
    if (!shown || draft) {
      node.hidden = true;
      node.dataset.source = "";
      return;
    }
    const kind = used ? used.source : "pending";
    node.classList.add(kind);
    node.dataset.source = kind;
    place(node, shown);
    node.hidden = false;
  }

  function showDraft(box, mode) {
    draft = { box, mode };
    place(els.regionDraft, box);
    els.regionDraft.hidden = false;
    els.regionDraft.classList.toggle("keys", mode === "keys");
    drawRegions();
  }

  function endDraft() {
    const hadFocus = document.activeElement === els.regionDraft;
    draft = null;
    drag = null;
    els.regionDraft.hidden = true;
    els.regionDraft.removeAttribute("tabindex");
    els.regionPosition.textContent = "";
    drawRegions();
    if (hadFocus && !els.regionTools.hidden) els.regionSelect.focus();
  }

  function searchRegion(box) {
    if (!current || current.kind === "product") return;
    const region = tidy(box);
    endDraft();
    search(Object.assign({}, current, { region }));
  }

  // ----- mouse, pen and touch: drag a box over the photo -----

  function pointAt(event) {
    const rect = els.regionLayer.getBoundingClientRect();
    if (!rect.width || !rect.height) return null;
    return {
      x: clamp((event.clientX - rect.left) / rect.width, 0, 1),
      y: clamp((event.clientY - rect.top) / rect.height, 0, 1),
    };
  }

  function dragBox(point) {
    return {
      x: Math.min(drag.x, point.x),
      y: Math.min(drag.y, point.y),
      width: Math.abs(point.x - drag.x),
      height: Math.abs(point.y - drag.y),
    };
  }

  function isBox(box) {
    return box.width >= CLICK_SIDE && box.height >= CLICK_SIDE;
  }

  els.queryPhoto.addEventListener("pointerdown", (event) => {
    if (drag || !regionsAllowed() || !event.isPrimary) return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    const point = pointAt(event);
    if (!point) return;
    event.preventDefault();
    try {
      els.queryPhoto.setPointerCapture(event.pointerId);
    } catch (_) {
      // The pointer is already gone: its moves just will not follow it outside the photo.
    }
    drag = { id: event.pointerId, x: point.x, y: point.y };
  });

  els.queryPhoto.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const point = pointAt(event);
    if (!point) return;
    const box = dragBox(point);
    // Until it is a box, the drag may still be a click: the keyboard's box stays.
    if (isBox(box) || (draft && draft.mode === "drag")) showDraft(box, "drag");
  });

  els.queryPhoto.addEventListener("pointerup", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    const point = pointAt(event);
    const box = point ? dragBox(point) : null;
    drag = null;
    if (box && isBox(box)) {
      searchRegion(box);
    } else if (draft && draft.mode === "drag") {
      endDraft();
    }
  });

  for (const name of ["pointercancel", "lostpointercapture"]) {
    els.queryPhoto.addEventListener(name, (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      drag = null;
      if (draft && draft.mode === "drag") endDraft();
    });
  }

  // Escape while dragging drops the box; letting go then searches nothing.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !drag) return;
    const id = drag.id;
    drag = null;
    if (els.queryPhoto.hasPointerCapture(id)) els.queryPhoto.releasePointerCapture(id);
    if (draft && draft.mode === "drag") endDraft();
  });

  // ----- keyboard: a box to move (arrows) and resize (Shift+arrows) -----

  function describeDraft(box) {
    const percent = (v) => Math.round(v * 100) + "%";
    return "Box from " + percent(box.x) + " to " + percent(box.x + box.width) + " across, " +
      percent(box.y) + " to " + percent(box.y + box.height) + " down.";
  }

  els.regionSelect.addEventListener("click", () => {
    if (!regionsAllowed()) return;
    const start = current.region || (used && used.source !== "whole" ? used : DEFAULT_BOX);
    const box = tidy(start);
    showDraft(box, "keys");
    els.regionDraft.tabIndex = 0;
    els.regionDraft.focus();
    els.regionPosition.textContent = describeDraft(box);
  });

  els.regionDraft.addEventListener("keydown", (event) => {
    if (!draft || draft.mode !== "keys") return;
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === "Enter") {
      event.preventDefault();
      searchRegion(draft.box);
    } else if (event.key === "Escape") {
      event.preventDefault();
      endDraft();
    } else if (event.key in moves && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      const box = Object.assign({}, draft.box);
      if (event.shiftKey) {
        box.width = clamp(box.width + dx * KEY_STEP, KEY_MIN_SIDE, 1 - box.x);
        box.height = clamp(box.height + dy * KEY_STEP, KEY_MIN_SIDE, 1 - box.y);
      } else {
        box.x = clamp(box.x + dx * KEY_STEP, 0, 1 - box.width);
        box.y = clamp(box.y + dy * KEY_STEP, 0, 1 - box.height);
      }
      const tidied = tidy(box);
      showDraft(tidied, "keys");
      els.regionPosition.textContent = describeDraft(tidied);
    }
  });

  // Leaving the box (Tab, a click elsewhere) cancels it, as Escape does; switching to another
  // window and back does not (the box stays the page's focused element).
  els.regionDraft.addEventListener("blur", () => {
    setTimeout(() => {
      const left = document.activeElement !== els.regionDraft;
      if (left && draft && draft.mode === "keys") endDraft();
    }, 0);
  });

  els.regionClear.addEventListener("click", () => {
    if (!current || current.kind === "product") return;
    endDraft();
    els.regionSelect.focus();
    search(Object.assign({}, current, { region: null }));
  });

  els.queryImage.addEventListener("load", layoutRegions);
  els.queryImage.addEventListener("error", () => {
    els.regionLayer.hidden = true;
  });
  if ("ResizeObserver" in window) {
    new ResizeObserver(layoutRegions).observe(els.queryImage);
  } else {
    window.addEventListener("resize", layoutRegions);
  }

  // ---------- images ----------

  function trackedObjectUrl(blob) {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls.clear();
    const url = URL.createObjectURL(blob);
    objectUrls.add(url);
    return url;
  }

  // An <img> cannot send a bearer token: with one, fetch the photo and show it from memory.
  async function setImage(img, url) {
    if (!token() || url.startsWith("blob:")) {
      img.src = url;
      return;
    }
    try {
      const blob = await (await api(url)).blob();
      img.src = URL.createObjectURL(blob);
      img.addEventListener("load", () => URL.revokeObjectURL(img.src), { once: true });
    } catch (_) {
      img.removeAttribute("src");
    }
  }

  // ---------- errors ----------

  function showError(err) {
    els.error.textContent = err && err.message ? err.message : "Something went wrong.";
    els.error.classList.add("shown");
  }

  function clearError() {
    els.error.textContent = "";
    els.error.classList.remove("shown");
  }

  // ---------- catalog (footer and filter choices) ----------

  async function loadCatalog() {
    try {
      const catalog = await (await api("v1/catalog")).json();
      fillSelect(els.category, catalog.categories || []);
      fillSelect(els.brand, catalog.brands || []);
      showCurrencies(catalog.currencies || []);
      const top = Math.ceil(Number(catalog.max_price));
      setBudgetRange(Number.isFinite(top) && top > 0 ? top : DEFAULT_MAX_PRICE);
      els.catalogInfo.textContent =
        "Catalog: " + catalog.points + " products · model " + catalog.model_id;
    } catch (err) {
      els.catalogInfo.textContent = "Catalog: unavailable (" + err.message + ")";
      if (err.status === 401 || err.status === 403) showError(err);
    }
  }

  function setBudgetRange(top) {
    const wasAny = Number(els.maxPrice.value) >= Number(els.maxPrice.max);
    els.maxPrice.max = String(top);
    if (wasAny) els.maxPrice.value = String(top);
    showBudget();
  }

  // Only a catalog priced in several currencies asks which one the budget is in.
  function showCurrencies(currencies) {
    const chosen = els.currency.value;
    els.currency.replaceChildren(...currencies.map((value) => new Option(value, value)));
    if (currencies.includes(chosen)) els.currency.value = chosen;
    els.currencyField.hidden = currencies.length < 2;
    showBudget();
  }

  function fillSelect(select, values) {
    const chosen = select.value;
    const first = select.options[0];
    const options = values.map((value) => new Option(value, value));
    select.replaceChildren(first, ...options);
    if (values.includes(chosen)) select.value = chosen;
  }

  // ---------- wiring ----------

  function useFile(file) {
    if (!file) return;
    search({ kind: "file", file, region: null });
  }

  els.file.addEventListener("change", () => {
    useFile(els.file.files[0]);
    // Choosing the same file again must still search.
    els.file.value = "";
  });

  for (const name of ["dragenter", "dragover"]) {
    els.dropzone.addEventListener(name, (event) => {
      event.preventDefault();
      els.dropzone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    els.dropzone.addEventListener(name, () => els.dropzone.classList.remove("dragging"));
  }
  els.dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    useFile(event.dataTransfer.files[0]);
  });

  document.addEventListener("paste", (event) => {
    const items = event.clipboardData ? Array.from(event.clipboardData.files) : [];
    const image = items.find((f) => f.type.startsWith("image/"));
    if (image) {
      event.preventDefault();
      useFile(image);
    }
  });

  els.urlForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const uri = els.url.value.trim();
    if (!uri) {
      showError(new Error("Enter an image URL first."));
      els.url.focus();
      return;
    }
    search({ kind: "uri", uri, region: null });
  });

  els.filters.addEventListener("submit", (event) => event.preventDefault());
  els.maxPrice.addEventListener("input", showBudget);
  els.currency.addEventListener("change", showBudget);
  els.filters.addEventListener("change", searchSoon);

  els.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, els.token.value.trim());
    els.token.value = "";
    clearError();
    loadCatalog();
    // The photo may have failed without the token: fetch it again.
    shownPhoto = null;
    if (current) search(current);
  });

  function fromLocation() {
    const match = /^#(similar|cheaper)=(.+)$/.exec(location.hash);
    if (match) {
      const cheaper = match[1] === "cheaper";
      search({ kind: "product", id: decodeURIComponent(match[2]), cheaper });
    }
  }

  if (token()) els.tokenForm.hidden = false;
  showBudget();
  loadCatalog();
  fromLocation();
})();
