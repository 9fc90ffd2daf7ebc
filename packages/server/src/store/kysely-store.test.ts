import { secretStoreContract } from "./contract/secret-store-contract.js";
import { contractDatabases } from "./contract/test-databases.js";

for (const { name, create } of await contractDatabases()) secretStoreContract(name, create);
