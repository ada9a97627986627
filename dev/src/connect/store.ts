import { badRequest, itemNotFound, vaultNotFound } from "./errors.ts";
import type { Fixture } from "./fixture.ts";
import { checkItemContent, type ItemInput, materializeItem } from "./items.ts";
import type { StoredItem, StoredVault } from "./model.ts";
import { newId } from "./random.ts";

/** The vaults and items of one dev server, in memory: a restart goes back to the fixture. */
export class ConnectStore {
  readonly #vaults = new Map<string, StoredVault>();
  readonly #now: () => Date;

  constructor(fixture: Fixture, now: () => Date = () => new Date()) {
    this.#now = now;
    const loadedAt = now();
    for (const { items, ...vault } of fixture.vaults) {
      const stored: StoredVault = {
        ...vault,
        attributeVersion: 1,
        contentVersion: 1,
        createdAt: loadedAt,
        updatedAt: loadedAt,
        items: new Map(),
      };
      for (const { id, ...content } of items) {
        try {
          checkItemContent(content);
        } catch (error) {
          throw new Error(`fixture item ${id} ("${content.title}"): ${(error as Error).message}`);
        }
        stored.items.set(id, {
          ...content,
          id,
          vaultId: vault.id,
          version: 1,
          createdAt: loadedAt,
          updatedAt: loadedAt,
        });
      }
      this.#vaults.set(vault.id, stored);
    }
  }

  listVaults(): StoredVault[] {
    return [...this.#vaults.values()];
  }

  vault(vaultId: string): StoredVault {
    const vault = this.#vaults.get(vaultId);
    if (!vault) throw vaultNotFound(vaultId);
    return vault;
  }

  listItems(vaultId: string): StoredItem[] {
    return [...this.vault(vaultId).items.values()];
  }

  item(vaultId: string, itemId: string): StoredItem {
    const item = this.vault(vaultId).items.get(itemId);
    if (!item) throw itemNotFound(itemId);
    return item;
  }

  createItem(vaultId: string, input: ItemInput): StoredItem {
    const vault = this.vault(vaultId);
    checkVaultOf(input, vaultId);
    const now = this.#now();
    const item: StoredItem = {
      ...materializeItem(input),
      id: newId(),
      vaultId,
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    vault.items.set(item.id, item);
    this.#touch(vault, now);
    return item;
  }

  /** PUT semantics: the body replaces every client-controlled attribute; the version goes up by one. */
  replaceItem(vaultId: string, itemId: string, input: ItemInput): StoredItem {
    const vault = this.vault(vaultId);
    const current = this.item(vaultId, itemId);
    checkVaultOf(input, vaultId);
    if (input.id !== undefined && input.id !== itemId) {
      throw badRequest(`The item's id ${input.id} does not match ${itemId} in the request path`);
    }
    const content = materializeItem(input);
    const now = this.#now();
    const item: StoredItem = { ...current, ...content, version: current.version + 1, updatedAt: now };
    vault.items.set(itemId, item);
    this.#touch(vault, now);
    return item;
  }

  deleteItem(vaultId: string, itemId: string): void {
    const vault = this.vault(vaultId);
    if (!vault.items.delete(itemId)) throw itemNotFound(itemId);
    this.#touch(vault, this.#now());
  }

  #touch(vault: StoredVault, now: Date): void {
    vault.contentVersion += 1;
    vault.updatedAt = now;
  }
}

function checkVaultOf(input: ItemInput, vaultId: string): void {
  if (input.vault && input.vault.id !== vaultId) {
    throw badRequest(
      `The item's vault ${input.vault.id} does not match vault ${vaultId} in the request path`,
    );
  }
}
