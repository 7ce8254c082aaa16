export async function run(_argv: string[]): Promise<void> {
  throw new Error('dnssync primary: not built yet');
}
