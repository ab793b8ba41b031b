declare module '*/VERSION' { const value: string; export default value; }
