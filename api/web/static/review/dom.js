// The review page's modules share these: an element by its id, and the data the server
// renders into the page as JSON (<script type="application/json">, data the browser never
// runs, so the Content-Security-Policy lets it be).
export const $ = (id) => document.getElementById(id);
export const readJSON = (id) => JSON.parse($(id).textContent);
