import { contractDatabases } from "../testing/test-databases.js";
import { secretStoreContract } from "./secret-store.contract.js";

for (const { name, create } of await contractDatabases()) secretStoreContract(name, create);
