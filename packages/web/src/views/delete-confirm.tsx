import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { asApiError, type Outcome } from "../components";
import { type SecretOwnerPath, secretUrl } from "./secret-form";
import type { DeleteRequest } from "./secret-grid";

/**
 * Asks before a delete, inline: a secret with all its overrides (as `secret:*:delete NAME`), or
 * one override (`<owner>.<env> NAME`). The server's message is the outcome.
 */
export function DeleteConfirm(props: {
  owner: SecretOwnerPath;
  request: DeleteRequest;
  onCancel: () => void;
  onDone: (outcome: Outcome) => void;
}) {
  const { name, env } = props.request;
  const [busy, setBusy] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => confirmRef.current?.focus(), []);
  const question = env
    ? `Delete the ${env} override of ${name}? The ${env} environment then gets the base value.`
    : `Delete ${name} and all its overrides from ${props.owner.label}?`;
  const confirm = async () => {
    setBusy(true);
    try {
      const answer = await api<{ message: string }>("DELETE", secretUrl(props.owner, name, env));
      props.onDone({ ok: true, message: `${answer.message} ${name}${env ? ` (${env} override)` : ""}.` });
    } catch (error) {
      props.onDone({ ok: false, error: asApiError(error) });
    }
  };
  return (
    <div class="notice warning">
      <p>{question}</p>
      <button type="button" class="danger" ref={confirmRef} disabled={busy} onClick={confirm}>
        {busy ? "Deleting…" : env ? "Delete the override" : "Delete the secret"}
      </button>{" "}
      <button type="button" class="secondary" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}
