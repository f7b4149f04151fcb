import { describe, expect, it } from 'vitest';
import { HttpError } from '../../core/errors.js';
import { checkRole, type AdminRole } from './admin-roles.js';

const ISVC = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/iris';

function allowed(role: string, method: string, path: string): boolean {
  try {
    checkRole({ role: role as AdminRole, subject: 't' }, method, path);
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(403);
    return false;
  }
}

describe('admin roles', () => {
  it('viewer reads; operator also changes traffic; admin applies, deletes and manages keys', () => {
    const cases: Array<[string, string, boolean, boolean, boolean]> = [
      ['GET', ISVC, true, true, true],
      ['GET', `${ISVC}/revisions`, true, true, true],
      ['POST', `${ISVC}/traffic`, false, true, true],
      ['PUT', ISVC, false, false, true],
      ['DELETE', ISVC, false, false, true],
      ['PUT', '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/x', false, false, true],
      ['GET', '/apis/auth.sluice.dev/v1alpha1/apikeys', false, false, true],
    ];
    for (const [method, path, viewer, operator, admin] of cases) {
      expect([allowed('viewer', method, path), allowed('operator', method, path), allowed('admin', method, path)], `${method} ${path}`).toEqual([viewer, operator, admin]);
    }
  });

  it('an unknown role (a hand-edited file) may do nothing', () => {
    expect(allowed('superuser', 'GET', ISVC)).toBe(false);
  });
});
