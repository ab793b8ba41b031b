// Runs in Node before the Workers test pool starts. Later: starts the scripted fake overseer.
export default async function setup() {}
