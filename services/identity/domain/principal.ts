/** Who a caller is, once identity has authenticated them. */
export interface Principal {
  /** Snowflake id of the guest or member. */
  id: string;
  kind: PrincipalKind;
}

export type PrincipalKind = 'guest' | 'member';
