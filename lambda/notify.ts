// Placeholder until the real handler lands (issue 4); the wiring around it is final.
export async function handler(event: unknown): Promise<unknown> {
  return { received: event !== undefined };
}
