// Fixture pages are imported as text through Vite's `?raw` suffix.
declare module '*.html?raw' {
  const text: string;
  export default text;
}
