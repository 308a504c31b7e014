/**
 * The default patch lifecycle, as data. Everything else (types, zod enums, allowed actions, the
 * Mermaid diagram, the gateway's routes) is derived from this one object; code never spells a
 * status or action that is not declared here. `validateLifecycle` checks it when it loads.
 */
export const lifecycleDefinition = {
  initialStatus: 'draft',
  statuses: [
    { name: 'draft', label: 'Draft', terminal: false },
    { name: 'active', label: 'Active', terminal: false },
    { name: 'in_deployment', label: 'In deployment', terminal: false },
    { name: 'deployed', label: 'Deployed', terminal: false },
    { name: 'deployment_failed', label: 'Deployment failed', terminal: false },
    { name: 'closed', label: 'Closed', terminal: true },
    { name: 'cancelled', label: 'Cancelled', terminal: true },
  ],
  actions: [
    {
      name: 'markActive',
      label: 'Mark active',
      from: ['draft'],
      to: 'active',
      roles: ['operator', 'admin'],
      requiredFields: [],
    },
    {
      name: 'startDeployment',
      label: 'Start deployment',
      from: ['active', 'deployment_failed'],
      to: 'in_deployment',
      roles: ['operator', 'admin'],
      requiredFields: [],
    },
    {
      name: 'completeDeployment',
      label: 'Complete deployment',
      from: ['in_deployment'],
      to: 'deployed',
      roles: ['operator', 'admin'],
      requiredFields: [],
    },
    {
      name: 'failDeployment',
      label: 'Fail deployment',
      from: ['in_deployment'],
      to: 'deployment_failed',
      roles: ['operator', 'admin'],
      requiredFields: ['reason'],
    },
    {
      name: 'close',
      label: 'Close',
      from: ['deployed'],
      to: 'closed',
      roles: ['operator', 'admin'],
      requiredFields: [],
    },
    {
      // Cancelling throws away planned work: only admins, and always with a reason.
      name: 'cancel',
      label: 'Cancel',
      from: ['draft', 'active', 'deployment_failed'],
      to: 'cancelled',
      roles: ['admin'],
      requiredFields: ['reason'],
    },
  ],
} as const;

export type LifecycleDefinitionData = typeof lifecycleDefinition;
export type PatchStatus = LifecycleDefinitionData['statuses'][number]['name'];
export type ActionName = LifecycleDefinitionData['actions'][number]['name'];

export const roleNames = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roleNames)[number];

/** Fields a transition request may be required to carry, per action. */
export const transitionFieldNames = ['reason'] as const;
export type TransitionField = (typeof transitionFieldNames)[number];

export const statusNames = lifecycleDefinition.statuses.map((s) => s.name) as unknown as readonly [PatchStatus, ...PatchStatus[]];
export const actionNames = lifecycleDefinition.actions.map((a) => a.name) as unknown as readonly [ActionName, ...ActionName[]];
