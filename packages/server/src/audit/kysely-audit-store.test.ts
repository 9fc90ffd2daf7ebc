import { contractDatabases } from "../testing/test-databases.js";
import { auditStoreContract } from "./audit-store.contract.js";

for (const { name, create } of await contractDatabases()) auditStoreContract(name, create);
