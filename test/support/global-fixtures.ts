// Placeholder: replaced by the MariaDB global fixture (issue 3).
export async function mochaGlobalSetup(): Promise<void> {}
