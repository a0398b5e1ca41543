// The few parts of the `stun` package (an alias of @msimerson/stun) that src/codec uses; it ships no types.
declare module 'stun' {
  interface StunAttributeObject {
    readonly type: number;
    readonly value: unknown;
  }
  interface StunMessageObject {
    readonly type: number;
    readonly transactionId: Buffer;
    getAttribute(type: number): StunAttributeObject | undefined;
    addAttribute(type: number, ...values: unknown[]): StunAttributeObject | undefined;
    addFingerprint(): boolean;
    toBuffer(): Buffer;
    [Symbol.iterator](): Iterator<StunAttributeObject>;
  }
  const stun: {
    createMessage(type: number, transactionId?: Buffer): StunMessageObject;
    decode(message: Buffer): StunMessageObject;
  };
  export default stun;
}
