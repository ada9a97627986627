import { randomBytes, randomInt } from "node:crypto";
import { badRequest } from "./errors.ts";
import { CHARACTER_SETS, type CharacterSet, type Recipe } from "./model.ts";

// Real ids are base32-looking; 32 symbols also make `byte & 31` an unbiased pick.
const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

export function newId(): string {
  return Array.from(randomBytes(26), (byte) => ID_ALPHABET[byte & 31]).join("");
}

const CHARACTERS: Record<CharacterSet, string> = {
  LETTERS: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
  DIGITS: "0123456789",
  SYMBOLS: "!#$%&()*+,-.:;<=>?@[]^_{|}~",
};

/**
 * A value for a field sent with `generate: true`: `length` characters drawn with crypto
 * randomness from the recipe's sets minus `excludeCharacters`. No sets means all of them.
 * Like 1Password's generator, every requested set appears at least once when the length allows.
 */
export function generateValue(recipe: Recipe): string {
  const excluded = new Set(recipe.excludeCharacters);
  const names = recipe.characterSets.length > 0 ? [...new Set(recipe.characterSets)] : CHARACTER_SETS;
  const sets = names
    .map((name) => [...CHARACTERS[name]].filter((char) => !excluded.has(char)))
    .filter((set) => set.length > 0);
  const alphabet = sets.flat();
  if (alphabet.length === 0)
    throw badRequest("The recipe's excludeCharacters leave no characters to generate from");
  const everySet = recipe.length >= sets.length;
  for (;;) {
    const chars = Array.from({ length: recipe.length }, () => alphabet[randomInt(alphabet.length)] as string);
    if (!everySet || sets.every((set) => chars.some((char) => set.includes(char)))) return chars.join("");
  }
}
