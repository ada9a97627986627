import type { Field, StoredItem, StoredVault } from "./model.ts";

/** The JSON Connect answers with. Empty optional attributes are left out, as Connect does. */
export function vaultView(vault: StoredVault) {
  return {
    id: vault.id,
    name: vault.name,
    ...(vault.description ? { description: vault.description } : {}),
    attributeVersion: vault.attributeVersion,
    contentVersion: vault.contentVersion,
    items: vault.items.size,
    type: vault.type,
    createdAt: vault.createdAt.toISOString(),
    updatedAt: vault.updatedAt.toISOString(),
  };
}

/** What item lists carry: metadata only, never fields or their values. */
export function itemSummaryView(item: StoredItem) {
  return {
    id: item.id,
    title: item.title,
    version: item.version,
    vault: { id: item.vaultId },
    category: item.category,
    ...(item.favorite ? { favorite: true } : {}),
    ...(item.tags.length > 0 ? { tags: item.tags } : {}),
    ...(item.urls.length > 0 ? { urls: item.urls } : {}),
    createdAt: item.createdAt.toISOString(),
    updatedAt: item.updatedAt.toISOString(),
  };
}

export function fullItemView(item: StoredItem) {
  return {
    ...itemSummaryView(item),
    ...(item.sections.length > 0 ? { sections: item.sections } : {}),
    fields: item.fields.map(fieldView),
  };
}

function fieldView(field: Field) {
  const { purpose, ...rest } = field;
  return purpose ? { ...rest, purpose } : rest;
}
