/**
 * The ownership proofs a user can submit for non-Steam stores, one strict zod schema per kind
 * (the seed's kinds): Xbox/Microsoft entitlements, EA licenses, Epic and GOG install manifests
 * with the executable's sha256/size/mtime, and manual receipts. None of them can be checked
 * against the store from here, so they all start `pending` until an org admin verifies them.
 * Strings are trimmed, length-capped and free of control characters ("sanitised JSON"); unknown
 * keys are refused.
 *
 *   const body = ProofIn.parse(json);           // { kind, org_id, game_id, ... }
 *   const { platform, externalIds, proof } = proofFacts(body);
 */
import { z } from '../../http/openapi';
import { cleanText } from '../schemas';

const Sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'sha256: 64 hex digits')
  .transform((s) => s.toLowerCase());
const DateTime = z.iso.datetime({ offset: true });
const Executable = z
  .object({
    path: cleanText(1024),
    sha256: Sha256,
    size: z.number().int().min(1).max(2 ** 45),
    mtime: DateTime,
  })
  .strict();

const Common = { org_id: z.number().int().positive(), game_id: z.number().int().positive() };

const Entitlement = z
  .object({
    product_id: z.string().regex(/^[0-9A-Z]{12}$/, 'product_id: a 12-character Store product id such as 9NBLGGH4R315'),
    entitlement_id: z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'entitlement_id: a GUID'),
    sku_id: z.string().regex(/^[0-9A-Z]{4}$/).optional(),
    acquired_at: DateTime.optional(),
  })
  .strict();

export const XboxProof = z.object({ kind: z.literal('xbox'), ...Common, entitlement: Entitlement }).strict();
export const MicrosoftProof = z.object({ kind: z.literal('microsoft'), ...Common, entitlement: Entitlement }).strict();

export const EaProof = z
  .object({
    kind: z.literal('ea'),
    ...Common,
    license: z
      .object({
        offer_id: z.string().regex(/^[A-Za-z0-9._:-]{3,64}$/, 'offer_id: such as Origin.OFR.50.0002694'),
        content_id: z.string().regex(/^[0-9]{1,20}$/),
        license_type: z.enum(['full', 'trial', 'subscription']),
        granted_at: DateTime,
        expires_at: DateTime.nullable().optional(),
      })
      .strict(),
  })
  .strict();

export const EpicProof = z
  .object({
    kind: z.literal('epic'),
    ...Common,
    manifest: z
      .object({
        app_name: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
        catalog_item_id: z.string().regex(/^[0-9a-f]{32}$/, 'catalog_item_id: 32 lowercase hex digits'),
        namespace: z.string().regex(/^[0-9a-z]{1,64}$/),
        app_version: cleanText(64).optional(),
        install_location: cleanText(1024),
        executable: Executable,
      })
      .strict(),
  })
  .strict();

export const GogProof = z
  .object({
    kind: z.literal('gog'),
    ...Common,
    manifest: z
      .object({
        product_id: z.string().regex(/^[0-9]{1,20}$/),
        build_id: z.string().regex(/^[0-9]{1,20}$/).optional(),
        version: cleanText(64).optional(),
        install_location: cleanText(1024),
        executable: Executable,
      })
      .strict(),
  })
  .strict();

export const ManualProof = z
  .object({
    kind: z.literal('manual'),
    ...Common,
    receipt: z
      .object({
        store: cleanText(64),
        order_id: cleanText(128),
        purchased_at: z.iso.date().or(DateTime),
        amount: z.number().finite().min(0).max(100_000).optional(),
        currency: z.string().regex(/^[A-Z]{3}$/, 'currency: ISO 4217 code').optional(),
        note: cleanText(500, { multiline: true }).optional(),
      })
      .strict(),
  })
  .strict();

export const ProofIn = z
  .discriminatedUnion('kind', [XboxProof, MicrosoftProof, EaProof, EpicProof, GogProof, ManualProof])
  .openapi('LibraryProofIn');
export type ProofInput = z.infer<typeof ProofIn>;

export const REVIEWABLE_KINDS = ['xbox', 'microsoft', 'ea', 'epic', 'gog', 'manual'] as const;

/**
 * What a proof says about the game: the store platform, the ids that must match the game's
 * `game_external_ids` for that platform (any one of them), and the JSON that is stored.
 */
export function proofFacts(p: ProofInput): { platform: string; externalIds: string[]; proof: Record<string, unknown> } {
  switch (p.kind) {
    case 'xbox':
    case 'microsoft':
      return { platform: p.kind, externalIds: [p.entitlement.product_id], proof: { entitlement: p.entitlement } };
    case 'ea':
      return { platform: 'ea', externalIds: [p.license.offer_id, p.license.content_id], proof: { license: p.license } };
    case 'epic':
      return { platform: 'epic', externalIds: [p.manifest.catalog_item_id, p.manifest.app_name], proof: { manifest: p.manifest } };
    case 'gog':
      return { platform: 'gog', externalIds: [p.manifest.product_id], proof: { manifest: p.manifest } };
    case 'manual':
      return { platform: 'manual', externalIds: [], proof: { receipt: p.receipt } };
  }
}
