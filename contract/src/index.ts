export * from "./body.ts";
export * from "./credentials.ts";
export * from "./encoding.ts";
export * from "./headers.ts";
export * from "./owner.ts";
export * from "./problem.ts";
export * from "./services.ts";
export * from "./signing.ts";
