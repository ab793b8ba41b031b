// Applies the saved theme ("dark" | "light") before first paint; no saved choice = follow the OS.
// Classic script (not a module) so it runs synchronously in <head>; the CSP forbids inline code.
(function () {
  try {
    var t = localStorage.getItem('edgeplane-theme');
    if (t === 'dark' || t === 'light') document.documentElement.dataset.theme = t;
  } catch (e) { /* storage disabled: follow the OS */ }
})();
