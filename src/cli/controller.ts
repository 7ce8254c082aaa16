export async function run(_argv: string[]): Promise<void> {
  throw new Error('dnssync controller: not built yet');
}
