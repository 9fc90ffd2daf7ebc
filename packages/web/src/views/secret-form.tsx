import { useRef, useState } from "preact/hooks";
import { ApiError, api, seg } from "../api";
import { asApiError, Field, type Outcome, OutcomeNotice } from "../components";
import { SCOPES, SECRET_TYPES, type SetSecretResponse } from "../types";

/** Whose secrets a form writes: `/v1/sites/<site>` or `/v1/orgs/<org>`. */
export interface SecretOwnerPath {
  readonly base: string;
  readonly label: string;
}

export function ownerPath(kind: "site" | "org", name: string): SecretOwnerPath {
  return { base: `/v1/${kind === "site" ? "sites" : "orgs"}/${seg(name)}`, label: `${kind} ${name}` };
}

/** The URL of a secret, or of its override in `env`. */
export function secretUrl(owner: SecretOwnerPath, name: string, env?: string): string {
  return `${owner.base}/secrets/${seg(name)}${env ? `/envs/${seg(env)}` : ""}`;
}

/**
 * Set a secret or one environment's override, as `secret:site:set` / `secret:org:set` do: the
 * server checks the name, value, type and scopes, and its message and notes are shown here. As the
 * CLI, the form refuses a blank Value and changes nothing (a forgotten value must not wipe a
 * secret); an empty value is set only when "Set an empty value" is ticked, the CLI's explicit `''`.
 */
export function SecretForm(props: { owner: SecretOwnerPath; envs: readonly string[]; onDone: () => void }) {
  const [name, setName] = useState("");
  const [env, setEnv] = useState("");
  const [value, setValue] = useState("");
  /** Ticked: the value is the empty string, on purpose. Unticked after each save. */
  const [empty, setEmpty] = useState(false);
  const [valueMissing, setValueMissing] = useState(false);
  const valueBox = useRef<HTMLTextAreaElement>(null);
  const [type, setType] = useState("");
  const [scopes, setScopes] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const id = (field: string) => `set-${field}`;

  const submit = async (event: Event) => {
    event.preventDefault();
    const where = env ? ` (the ${env} override)` : "";
    // Empty, or Enter alone (a lone newline), as the CLI's prompt and stdin count it: not given.
    if (value.replace(/\r?\n$/, "") === "" && !empty) {
      setValueMissing(true);
      setOutcome({
        ok: false,
        error: new ApiError(
          0,
          "NO_VALUE",
          `No value given for '${name.trim()}'${where}: nothing was changed. Type the value, or tick "Set an empty value" to set an empty one.`,
        ),
      });
      valueBox.current?.focus();
      return;
    }
    setValueMissing(false);
    setBusy(true);
    setOutcome(undefined);
    try {
      const body = {
        value: empty ? "" : value,
        ...(type ? { type } : {}),
        ...(scopes.length > 0 ? { scopes: [...scopes] } : {}),
      };
      const answer = await api<SetSecretResponse>(
        "PUT",
        secretUrl(props.owner, name.trim(), env || undefined),
        {
          body,
        },
      );
      setOutcome({
        ok: true,
        message: `${answer.message} ${answer.secret.name}${where}: type ${answer.secret.type}, scopes ${answer.secret.scopes.join(",") || "none"}.`,
        notes: answer.notes,
      });
      setValue("");
      setEmpty(false);
      props.onDone();
    } catch (error) {
      setOutcome({ ok: false, error: asApiError(error) });
    } finally {
      setBusy(false);
    }
  };

  const toggleScope = (scope: string, on: boolean) =>
    setScopes((current) => (on ? [...current, scope] : current.filter((s) => s !== scope)));

  return (
    <form class="panel stack" onSubmit={submit} aria-labelledby="set-heading">
      <h2 id="set-heading">Set a secret or an override</h2>
      <div class="row">
        <Field
          label="Name"
          id={id("name")}
          hint="Letters, digits, _ . and -, as the CLI takes them (the server checks each type's rule)."
        >
          <input
            id={id("name")}
            required
            autocomplete="off"
            spellcheck={false}
            value={name}
            aria-describedby={`${id("name")}-hint`}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field label="Where" id={id("env")}>
          <select id={id("env")} value={env} onChange={(e) => setEnv(e.currentTarget.value)}>
            <option value="">Base value (every environment)</option>
            {props.envs.map((name) => (
              <option key={name} value={name}>
                Override for {name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field
        label="Value"
        id={id("value")}
        hint="Sent once over this connection; never put in the address bar."
      >
        <textarea
          id={id("value")}
          ref={valueBox}
          rows={2}
          autocomplete="off"
          spellcheck={false}
          value={empty ? "" : value}
          disabled={empty}
          aria-invalid={valueMissing}
          aria-describedby={`${id("value")}-hint`}
          onInput={(e) => {
            setValue(e.currentTarget.value);
            setValueMissing(false);
          }}
        />
      </Field>
      <label class="check">
        <input
          type="checkbox"
          checked={empty}
          onChange={(e) => {
            setEmpty(e.currentTarget.checked);
            setValueMissing(false);
          }}
        />{" "}
        Set an empty value (a blank Value is refused otherwise)
      </label>
      <div class="row">
        <Field label="Type" id={id("type")} hint="Only for a new secret (default runtime); it cannot change.">
          <select
            id={id("type")}
            value={type}
            aria-describedby={`${id("type")}-hint`}
            onChange={(e) => setType(e.currentTarget.value)}
          >
            <option value="">Keep / default</option>
            {SECRET_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <fieldset class="scopes">
          <legend>Scopes (none ticked: keep / the default)</legend>
          {SCOPES.map((scope) => (
            <label key={scope} class="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) => toggleScope(scope, e.currentTarget.checked)}
              />{" "}
              {scope}
            </label>
          ))}
        </fieldset>
      </div>
      <div>
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
      <OutcomeNotice outcome={outcome} />
    </form>
  );
}
