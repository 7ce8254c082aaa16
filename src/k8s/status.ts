/**
 * Status subresource writes for our custom resources: a JSON merge patch of `{status}`
 * through /status, so a status write can never touch spec and needs no resourceVersion.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';

export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

export class StatusClient {
  private readonly api: CustomObjectsApi;
  private readonly options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async patch(res: ResourceRef, namespace: string | undefined, name: string, status: object): Promise<void> {
    const body = { status };
    if (namespace) {
      await this.api.patchNamespacedCustomObjectStatus({ ...res, namespace, name, body }, this.options);
    } else {
      await this.api.patchClusterCustomObjectStatus({ ...res, name, body }, this.options);
    }
  }
}
