// The vrs page: a photo (file, drop, paste or URL) or a product in, similar products out.
// Plain script, no build step: it talks to the gateway's JSON API next to it.
"use strict";

(function () {
  const DEFAULT_MAX_PRICE = 500;
  const TOKEN_KEY = "vrs.token";
  // Sliders fire on every step; wait for the hand to rest before asking the server.
  const SETTLE_MS = 250;

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
    k: $("k"),
    category: $("category"),
    brand: $("brand"),
    inStock: $("in-stock"),
    error: $("error"),
    status: $("status"),
    results: $("results"),
    query: $("query"),
    queryImage: $("query-image"),
    queryCaption: $("query-caption"),
    grid: $("grid"),
    catalogInfo: $("catalog-info"),
    template: $("card-template"),
  };

  // The query the results answer: {kind: "file", file} | {kind: "uri", uri} | {kind: "product", id}.
  let current = null;
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
    const result = { k: clampInt(els.k.value, 1, 100, 12) };
    const price = Number(els.maxPrice.value);
    if (price < Number(els.maxPrice.max)) result.max_price = price;
    if (els.category.value) result.categories = [els.category.value];
    if (els.brand.value) result.brands = [els.brand.value];
    if (els.inStock.checked) result.in_stock = true;
    return result;
  }

  function clampInt(text, low, high, fallback) {
    const value = Math.round(Number(text));
    if (!Number.isFinite(value) || text === "") return fallback;
    return Math.min(high, Math.max(low, value));
  }

  function asQueryString(f) {
    const params = new URLSearchParams();
    params.set("k", String(f.k));
    if (f.max_price !== undefined) params.set("max_price", String(f.max_price));
    for (const c of f.categories || []) params.append("category", c);
    for (const b of f.brands || []) params.append("brand", b);
    if (f.in_stock) params.set("in_stock", "true");
    return params.toString();
  }

  function asFormData(file, f) {
    const form = new FormData();
    form.append("image", file, file.name || "photo");
    form.append("k", String(f.k));
    if (f.max_price !== undefined) form.append("max_price", String(f.max_price));
    for (const c of f.categories || []) form.append("category", c);
    for (const b of f.brands || []) form.append("brand", b);
    if (f.in_stock) form.append("in_stock", "true");
    return form;
  }

  function showBudget() {
    const price = Number(els.maxPrice.value);
    els.maxPriceValue.textContent =
      price < Number(els.maxPrice.max) ? "up to " + price.toFixed(2) : "any price";
  }

  // ---------- searching ----------

  function request(query, f, signal) {
    if (query.kind === "product") {
      const path = "v1/products/" + encodeURIComponent(query.id) + "/similar?" + asQueryString(f);
      return api(path, { signal });
    }
    if (query.kind === "file") {
      return api("v1/search/image", { method: "POST", body: asFormData(query.file, f), signal });
    }
    const body = Object.assign({ image: { uri: query.uri } }, f);
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
    const f = filters();
    clearError();
    showQuery(query);
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
      els.grid.replaceChildren();
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
    if (query.kind === "file") {
      setImage(els.queryImage, trackedObjectUrl(query.file));
      els.queryImage.alt = "Your photo";
      els.queryCaption.textContent = "Your photo" + (query.file.name ? ": " + query.file.name : "");
      els.query.dataset.productId = "";
    } else if (query.kind === "uri") {
      els.queryImage.src = query.uri;
      els.queryImage.alt = "The photo at " + query.uri;
      els.queryCaption.textContent = query.uri;
      els.query.dataset.productId = "";
    } else {
      setImage(els.queryImage, "v1/products/" + encodeURIComponent(query.id) + "/image");
      els.queryImage.alt = "Product " + query.id;
      els.queryCaption.textContent = "More like " + query.id;
      els.query.dataset.productId = query.id;
      describeProduct(query.id);
    }
  }

  async function describeProduct(id) {
    try {
      const product = await (await api("v1/products/" + encodeURIComponent(id))).json();
      if (current && current.kind === "product" && current.id === id) {
        els.queryCaption.textContent = "More like " + product.title + " (" + money(product) + ")";
        els.queryImage.alt = product.title;
      }
    } catch (_) {
      // The caption keeps the id; the search itself reports what went wrong.
    }
  }

  function render(answer, f) {
    const matches = answer.matches || [];
    const cards = matches.map(card);
    els.grid.replaceChildren(...cards);
    els.results.dataset.maxPrice = f.max_price === undefined ? "" : String(f.max_price);
    const within = f.max_price === undefined ? "" : " within " + f.max_price.toFixed(2);
    els.status.textContent = matches.length
      ? matches.length + " similar product" + (matches.length === 1 ? "" : "s") + within + "."
      : "No products match these filters; try a larger budget or fewer filters.";
  }

  function card(match) {
    const node = els.template.content.firstElementChild.cloneNode(true);
    node.dataset.productId = match.product_id;
    const image = node.querySelector(".card-image");
    setImage(image, match.image_url);
    image.alt = match.title || match.product_id;
    node.querySelector(".card-title").textContent = match.title || match.product_id;
    node.querySelector(".brand").textContent = match.brand || "no brand";
    node.querySelector(".category").textContent = match.category || "uncategorised";
    const price = node.querySelector(".price");
    price.textContent = money(match);
    if (match.price !== null && match.price !== undefined) price.dataset.price = match.price;
    node.querySelector(".stock").textContent = match.in_stock ? "in stock" : "out of stock";
    node.querySelector(".distance").textContent = "distance " + match.distance.toFixed(3);
    const more = node.querySelector(".more");
    more.href = "#similar=" + encodeURIComponent(match.product_id);
    more.setAttribute("aria-label", "More like " + (match.title || match.product_id));
    more.addEventListener("click", (event) => {
      event.preventDefault();
      history.replaceState(null, "", more.href);
      search({ kind: "product", id: match.product_id });
      els.results.focus();
    });
    return node;
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
    search({ kind: "file", file });
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
    search({ kind: "uri", uri });
  });

  els.filters.addEventListener("submit", (event) => event.preventDefault());
  els.maxPrice.addEventListener("input", showBudget);
  els.filters.addEventListener("change", searchSoon);

  els.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, els.token.value.trim());
    els.token.value = "";
    clearError();
    loadCatalog();
    if (current) search(current);
  });

  function fromLocation() {
    const match = /^#similar=(.+)$/.exec(location.hash);
    if (match) search({ kind: "product", id: decodeURIComponent(match[1]) });
  }

  if (token()) els.tokenForm.hidden = false;
  showBudget();
  loadCatalog();
  fromLocation();
})();
