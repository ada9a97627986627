import { type Problem, ProblemError } from "@chittyconnect/contract";
import type { FlagName } from "./definitions.ts";

/** A refusal because of a feature flag; the `flag` member names it. */
export class FlagProblem extends ProblemError {
  readonly flag: FlagName;

  constructor(flag: FlagName, init: { status: number; code: string; title: string; detail: string }) {
    super(init);
    this.flag = flag;
  }

  override toProblem(requestId?: string): Problem {
    return { ...super.toProblem(requestId), flag: this.flag };
  }
}

/** 503 `feature_disabled`: the capability's flag is off for this caller. */
export function featureDisabled(flag: FlagName, capability: string): FlagProblem {
  return new FlagProblem(flag, {
    status: 503,
    code: "feature_disabled",
    title: "Feature disabled",
    detail: `${capability} is switched off for this owner by the feature flag "${flag}".`,
  });
}

/** 415: a MessagePack body from an owner for whom the `msgpack` flag is off; JSON still works. */
export function msgpackBodyRefused(): FlagProblem {
  return new FlagProblem("msgpack", {
    status: 415,
    code: "unsupported_media_type",
    title: "Unsupported media type",
    detail:
      'MessagePack is switched off for this owner by the feature flag "msgpack"; send the body as application/json.',
  });
}

export function flagNotFound(name: string): ProblemError {
  return new ProblemError({
    status: 404,
    code: "flag_not_found",
    title: "Not found",
    // Only a bounded echo of the name: it comes from the URL.
    detail: `There is no feature flag named ${JSON.stringify(name.slice(0, 64))}.`,
  });
}
