// Tell the server the browser's time zone, so pages and exports show local times.
// A cookie (not inline script): the Content-Security-Policy allows only static scripts.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone) return;
  var current = document.cookie.split("; ").filter(function (c) {
    return c.indexOf("tz=") === 0;
  })[0];
  if (current === "tz=" + encodeURIComponent(zone)) return;
  // Pages from the next one on are drawn in this zone (no reload: the first page a
  // browser ever sees here is the sign-in page, which shows no times).
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
})();
