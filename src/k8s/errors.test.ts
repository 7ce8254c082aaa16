import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isNamespaceTerminating } from './errors.js';

// The body kube-apiserver 1.35 returns when an Event is created in a terminating namespace.
const terminatingBody = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  message: 'events "x.1" is forbidden: unable to create new content in namespace ns because it is being terminated',
  reason: 'Forbidden',
  details: { name: 'x.1', kind: 'events', causes: [{ reason: 'NamespaceTerminating', message: 'namespace ns is being terminated', field: 'metadata.namespace' }] },
  code: 403,
});

describe('isNamespaceTerminating', () => {
  it('recognises the apiserver refusing content in a terminating namespace', () => {
    expect(isNamespaceTerminating(new ApiException(403, 'Forbidden', terminatingBody, {}))).toBe(true);
  });

  it('does not excuse a plain RBAC denial', () => {
    const rbac = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', message: 'events is forbidden: User "x" cannot create resource "events"', code: 403 });
    expect(isNamespaceTerminating(new ApiException(403, 'Forbidden', rbac, {}))).toBe(false);
  });

  it('ignores other status codes and non-errors', () => {
    expect(isNamespaceTerminating(new ApiException(409, 'Conflict', terminatingBody, {}))).toBe(false);
    expect(isNamespaceTerminating(new Error('NamespaceTerminating'))).toBe(false);
    expect(isNamespaceTerminating(undefined)).toBe(false);
  });
});
